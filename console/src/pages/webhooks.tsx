import { Page } from '../ui';
export function WebhooksPage(_props: any) { return <Page title="WebhooksPage">todo</Page>; }
