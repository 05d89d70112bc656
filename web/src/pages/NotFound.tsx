import { PageHeader } from '../components.tsx';
import { Link } from '../router.tsx';

export function NotFound() {
  return (
    <>
      <PageHeader title="Page not found" />
      <div className="state empty">
        <p>There is no page at this address.</p>
        <Link to="/" className="button">
          Go to the dashboard
        </Link>
      </div>
    </>
  );
}
