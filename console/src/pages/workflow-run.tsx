import { Page } from '../ui';
export function WorkflowRunPage(_props: any) { return <Page title="WorkflowRunPage">todo</Page>; }
