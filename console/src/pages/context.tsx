import { Page } from '../ui';
export function ContextPage(_props: any) { return <Page title="ContextPage">todo</Page>; }
