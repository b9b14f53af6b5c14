/**
 * Training reports: learning curves (SVG, PNG, CSV), JSON-lines metrics and a progress line.
 */
export { aggregateSeries, checkSeries } from './curve-data.js';
export type { AggregatedSeries, BandKind, Run, Series } from './curve-data.js';
export { curveCsv } from './curve-csv.js';
export { PALETTE, learningCurveSvg } from './curve-svg.js';
export type { LearningCurveSpec } from './curve-svg.js';
export { writeLearningCurve } from './learning-curve.js';
export type { WriteCurveOptions, WrittenCurve } from './learning-curve.js';
export { formatCount, formatDuration, formatValue } from './format.js';
export { MetricsWriter, readMetrics } from './metrics.js';
export type { MetricValue, MetricsEvent, MetricsWriterOptions, ReadMetricsOptions } from './metrics.js';
export { svgToPng } from './png.js';
export type { ResvgModule, SvgToPngOptions } from './png.js';
export { ProgressBar } from './progress.js';
export type { ProgressBarOptions, ProgressFields, ProgressStream } from './progress.js';
export { formatTick, formatTicks, niceStep, niceTicks } from './ticks.js';
export type { Ticks } from './ticks.js';
