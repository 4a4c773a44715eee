// The lab's model of the prober alarm (3 of 3 periods of 10 s, Maximum < 1, missing data not
// breaching; infra/constructs/observability.ts) against CloudWatch's documented evaluation: a
// period counts once it has ended, a 10 s alarm is evaluated every 10 s ("Using Amazon
// CloudWatch alarms", AlarmThatSendsEmail.html). Fault times are drawn, not pinned.
import { METRICS } from "../../functions/common/contract";
import type { LabClock } from "../../lab/world/clock";
import { Random } from "../../lab/world/clock";
import { MetricStore, ProbeAlarm } from "../../lab/world/cloudwatch";

function world(seed: number) {
  let now = 1_796_000_000_000 + new Random(seed).between(0, 10_000);
  const clock = { nowMs: () => now, real: (ms: number) => ms } as unknown as LabClock;
  const store = new MetricStore(clock);
  const alarms: number[] = [];
  const alarm = new ProbeAlarm(store, clock, {
    region: "us-west-2",
    name: "primary-unhealthy",
    probedRegion: "us-east-1",
    periodSeconds: 10,
    datapointsToAlarm: 3,
    evaluationPeriods: 3,
    onAlarm: () => alarms.push(now),
  });
  const probe = (healthy: boolean) =>
    store.put("us-west-2", METRICS.namespace, {
      name: METRICS.probeHealthy,
      value: healthy ? 1 : 0,
      unit: "None",
      dimensions: { Region: "us-east-1" },
      timestamp: new Date(now),
    });
  return {
    alarms,
    alarm,
    probe,
    get now() {
      return now;
    },
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe("the lab's prober alarm", () => {
  it("rises no sooner than two whole periods after the first failed probe, and within four", () => {
    for (let seed = 1; seed <= 200; seed++) {
      const w = world(seed);
      const random = new Random(seed * 7919);
      const probeOffset = random.between(0, 10_000);
      const evalOffset = random.between(0, 10_000);
      const faultAt = w.now + 60_000 + random.between(0, 10_000);
      let nextProbe = w.now + probeOffset;
      let nextEval = w.now + evalOffset;
      const end = faultAt + 60_000;
      while (w.now < end) {
        const step = Math.min(nextProbe, nextEval) - w.now;
        w.advance(step);
        if (w.now === nextProbe) {
          w.probe(w.now < faultAt);
          nextProbe += 10_000;
        }
        if (w.now === nextEval) {
          w.alarm.evaluate();
          nextEval += ProbeAlarm.evaluationIntervalSeconds(10) * 1000;
        }
      }
      expect(w.alarms).toHaveLength(1);
      const detect = w.alarms[0]! - faultAt;
      // The first failed probe comes within a probe interval of the fault; two more whole periods
      // must end after its own, and the evaluation may come up to 10 s after that.
      expect(detect).toBeGreaterThanOrEqual(20_000);
      expect(detect).toBeLessThanOrEqual(50_000);
    }
  });

  it("rejects silence as a failure: missing probes never raise it", () => {
    const w = world(3);
    for (let i = 0; i < 6; i++) {
      w.probe(true);
      w.advance(10_000);
      w.alarm.evaluate();
    }
    for (let i = 0; i < 12; i++) {
      w.advance(10_000);
      w.alarm.evaluate();
    }
    expect(w.alarms).toEqual([]);
  });
});
