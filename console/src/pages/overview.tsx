import { Page } from '../ui';
export function OverviewPage(_props: any) { return <Page title="OverviewPage">todo</Page>; }
