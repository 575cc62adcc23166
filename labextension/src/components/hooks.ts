import { ISignal } from '@lumino/signaling';
import * as React from 'react';

/** Render again whenever one of `signals` emits. */
export function useSignals(...signals: ISignal<any, any>[]): void {
  const [, setTick] = React.useState(0);
  React.useEffect(() => {
    const slot = () => setTick(tick => tick + 1);
    signals.forEach(signal => signal.connect(slot));
    return () => signals.forEach(signal => signal.disconnect(slot));
  }, signals);
}
