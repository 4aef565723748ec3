import { Page } from '../ui';
export function BudgetsPage(_props: any) { return <Page title="BudgetsPage">todo</Page>; }
