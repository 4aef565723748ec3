import { StrictMode, useEffect, type ReactNode } from 'react';
import { createRoot } from 'react-dom/client';
import { Layout } from './layout';
import { matchPath, navigate, useLocation } from './router';
import { SessionProvider, useSession } from './session';
import { SignInPage } from './pages/sign-in';
import { StatusPage } from './pages/status';
import { OverviewPage } from './pages/overview';
import { AgentsPage, NewAgentPage } from './pages/agents';
import { AgentPage } from './pages/agent';
import { RunsPage } from './pages/runs';
import { TracePage } from './pages/trace';
import { WorkflowsPage, NewWorkflowPage } from './pages/workflows';
import { WorkflowPage } from './pages/workflow';
import { WorkflowRunPage } from './pages/workflow-run';
import { ContextPage } from './pages/context';
import { SourcePage } from './pages/source';
import { EventsPage } from './pages/events';
import { RequestsPage } from './pages/requests';
import { ApiKeysPage } from './pages/api-keys';
import { WebhooksPage } from './pages/webhooks';
import { BudgetsPage } from './pages/budgets';
import { Page, Empty } from './ui';
import './styles.css';

type Render = (params: Record<string, string>) => ReactNode;

/** The signed-in pages by path; the first pattern that matches wins. */
const ROUTES: Array<[string, Render]> = [
  ['/overview', () => <OverviewPage />],
  ['/agents', () => <AgentsPage />],
  ['/agents/new', () => <NewAgentPage />],
  ['/agents/:id', ({ id }) => <AgentPage id={id!} tab="playground" />],
  ['/agents/:id/configuration', ({ id }) => <AgentPage id={id!} tab="configuration" />],
  ['/agents/:id/versions', ({ id }) => <AgentPage id={id!} tab="versions" />],
  ['/runs', () => <RunsPage />],
  ['/runs/:id', ({ id }) => <TracePage id={id!} />],
  ['/workflows', () => <WorkflowsPage />],
  ['/workflows/new', () => <NewWorkflowPage />],
  ['/workflows/:id', ({ id }) => <WorkflowPage id={id!} />],
  ['/workflows/:id/runs/:runId', ({ id, runId }) => <WorkflowRunPage workflowId={id!} runId={runId!} />],
  ['/context', () => <ContextPage />],
  ['/context/:id', ({ id }) => <SourcePage id={id!} />],
  ['/events', () => <EventsPage />],
  ['/requests', () => <RequestsPage />],
  ['/settings', () => <ApiKeysPage />],
  ['/settings/api-keys', () => <ApiKeysPage />],
  ['/settings/webhooks', () => <WebhooksPage />],
  ['/settings/budgets', () => <BudgetsPage />],
];

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
}

function SignedInPages({ path }: { path: string }) {
  for (const [pattern, render] of ROUTES) {
    const params = matchPath(pattern, path);
    if (params) return <Layout>{render(params)}</Layout>;
  }
  return (
    <Layout>
      <Page title="Page not found"><Empty>There is no console page at {path}.</Empty></Page>
    </Layout>
  );
}

function App() {
  const { path } = useLocation();
  const { session } = useSession();
  if (path === '/status') return <StatusPage />;
  if (!session) return path === '/sign-in' ? <SignInPage /> : <Redirect to="/sign-in" />;
  if (path === '/' || path === '/sign-in') return <Redirect to="/overview" />;
  // A mode switch shows every page afresh, with the other mode's data.
  return <SignedInPages key={session.mode} path={path} />;
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <SessionProvider>
      <App />
    </SessionProvider>
  </StrictMode>,
);
