import { Bar, BarChart, CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';

export interface Series {
  key: string;
  label: string;
  color: string;
}

export type Point = { label: string } & Record<string, number | string | null>;

/**
 * A chart over time buckets, with a caption that says in words what it shows (the chart
 * itself is also keyboard-navigable: Recharts' accessibility layer).
 */
export function TimeChart({ title, data, series, kind = 'bar', format = String, caption, counts = false }: {
  title: string; data: Point[]; series: Series[]; kind?: 'bar' | 'line'; format?: (value: number) => string; caption: string;
  /** Whole numbers only (requests, runs): no fractional ticks. */
  counts?: boolean;
}) {
  const tooltipFormat = (value: unknown) => (typeof value === 'number' ? format(value) : String(value ?? '—'));
  const axes = (
    <>
      <CartesianGrid strokeDasharray="3 3" stroke="#8884" />
      <XAxis dataKey="label" tick={{ fontSize: 12 }} minTickGap={16} />
      <YAxis tick={{ fontSize: 12 }} tickFormatter={(value: number) => format(value)} width={80} allowDecimals={!counts} />
      <Tooltip formatter={tooltipFormat} />
      <Legend />
    </>
  );
  return (
    <figure className="card" aria-label={title}>
      <h2>{title}</h2>
      <div className="chart">
        <ResponsiveContainer width="100%" height="100%">
          {kind === 'bar' ? (
            <BarChart data={data} accessibilityLayer>
              {axes}
              {series.map((s) => <Bar key={s.key} dataKey={s.key} name={s.label} fill={s.color} isAnimationActive={false} />)}
            </BarChart>
          ) : (
            <LineChart data={data} accessibilityLayer>
              {axes}
              {series.map((s) => <Line key={s.key} dataKey={s.key} name={s.label} stroke={s.color} dot={{ r: 3 }} connectNulls isAnimationActive={false} />)}
            </LineChart>
          )}
        </ResponsiveContainer>
      </div>
      <figcaption>{caption}</figcaption>
    </figure>
  );
}
