import { Page } from '../ui';
export function EventsPage(_props: any) { return <Page title="EventsPage">todo</Page>; }
