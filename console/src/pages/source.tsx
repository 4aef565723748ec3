import { Page } from '../ui';
export function SourcePage(_props: any) { return <Page title="SourcePage">todo</Page>; }
