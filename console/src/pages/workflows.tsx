import { Page } from '../ui';
export function WorkflowsPage(_props: any) { return <Page title="WorkflowsPage">todo</Page>; }
export function NewWorkflowPage(_props: any) { return <Page title="NewWorkflowPage">todo</Page>; }
