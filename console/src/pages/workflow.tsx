import { Page } from '../ui';
export function WorkflowPage(_props: any) { return <Page title="WorkflowPage">todo</Page>; }
