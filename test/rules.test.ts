import { describe, expect, it } from 'vitest';
import { areaHa } from '../geodata/area.js';
import { classifySite, createRuleIndex, isPermitValid, jurisdictionOf } from '../pipeline/rules.js';
import { DEFAULT_RULES, type ChangeSite, type PermitProperties, type ReferenceArea, type RuleLayers } from '../pipeline/types.js';
import { rect } from './helpers/geometry.js';

const DATE = '2026-10-17';

function site(geometry: ReturnType<typeof rect>): ChangeSite {
  return { siteIndex: 0, geometry, areaHa: areaHa(geometry), score: 0.9, changeKind: 'vegetation_to_bare_soil', kindShares: {}, centroid: [0, 0] };
}

function permit(id: string, geometry: ReturnType<typeof rect>, over: Partial<PermitProperties> = {}): ReferenceArea<PermitProperties> {
  return {
    id, geometry,
    properties: { permit_id: id, holder: '示例', type: 'mining', mineral: 'rare_earth', valid_from: '2020-01-01', valid_to: '2029-12-31', status: 'active', ...over },
  };
}

function layers(over: Partial<RuleLayers> = {}): RuleLayers {
  return { permits: [], closedSites: [], protectedAreas: [], jurisdictions: [], ...over };
}

// A 1 km × 1 km permit at the origin.
const P = rect(0, 0, 1000, 1000);

describe('permit validity', () => {
  it('needs active status and the date inside the validity', () => {
    const p = permit('C1', P).properties;
    expect(isPermitValid(p, DATE)).toBe(true);
    expect(isPermitValid({ ...p, valid_to: '2026-10-16' }, DATE)).toBe(false);
    expect(isPermitValid({ ...p, valid_to: DATE }, DATE)).toBe(true);
    expect(isPermitValid({ ...p, valid_from: '2026-10-18' }, DATE)).toBe(false);
    expect(isPermitValid({ ...p, status: 'suspended' }, DATE)).toBe(false);
  });
});

describe('classifySite', () => {
  it('change wholly inside a valid mining permit is licensed activity, no alert', () => {
    const c = classifySite(site(rect(100, 100, 300, 300)), createRuleIndex(layers({ permits: [permit('C1', P)] })), DATE, DEFAULT_RULES);
    expect(c.outcome).toBe('licensed');
    if (c.outcome === 'licensed') expect(c.permitId).toBe('C1');
  });

  it('a pit crossing its permit line by ≥ 0.1 ha is out_of_bounds, with the area outside in the trace', () => {
    // 200 m × 100 m, 50 m of it outside → 0.5 ha outside.
    const c = classifySite(site(rect(850, 100, 1050, 200)), createRuleIndex(layers({ permits: [permit('C1', P)] })), DATE, DEFAULT_RULES);
    expect(c.outcome).toBe('alert');
    if (c.outcome !== 'alert') return;
    expect(c.category).toBe('out_of_bounds');
    expect(c.permitId).toBe('C1');
    expect(c.areaOutsidePermitHa!).toBeCloseTo(0.5, 2);
    expect(c.summary).toMatch(/change of 2\.00 ha, 0\.50 ha outside permit C1, permit valid to 2029-12-31/);
  });

  it('less than 0.1 ha outside is positional tolerance, not out of bounds', () => {
    const c = classifySite(site(rect(960, 100, 1004, 300)), createRuleIndex(layers({ permits: [permit('C1', P)] })), DATE, DEFAULT_RULES);
    expect(c.outcome).toBe('licensed');
  });

  it('change near no valid permit is unlicensed; within 100 m of a permit it is not', () => {
    const idx = createRuleIndex(layers({ permits: [permit('C1', P)] }));
    const far = classifySite(site(rect(1200, 0, 1300, 100)), idx, DATE, DEFAULT_RULES);
    expect(far.outcome === 'alert' && far.category).toBe('unlicensed');
    const near = classifySite(site(rect(1050, 0, 1150, 100)), idx, DATE, DEFAULT_RULES);
    // Near the permit (50 m away) and wholly outside it: out of bounds, not unlicensed.
    expect(near.outcome === 'alert' && near.category).toBe('out_of_bounds');
    expect(near.outcome === 'alert' && near.flags).not.toContain('unlicensed');
  });

  it('below the minimum mapping unit is ignored', () => {
    const c = classifySite(site(rect(2000, 0, 2050, 50)), createRuleIndex(layers()), DATE, DEFAULT_RULES);
    expect(c.outcome).toBe('ignored');
  });

  it('≥ 1 ha inside a valid exploration permit is exploration_only; smaller is allowed', () => {
    const idx = createRuleIndex(layers({ permits: [permit('T1', P, { type: 'exploration' })] }));
    const big = classifySite(site(rect(100, 100, 250, 250)), idx, DATE, DEFAULT_RULES);
    expect(big.outcome === 'alert' && big.category).toBe('exploration_only');
    const small = classifySite(site(rect(100, 100, 160, 160)), idx, DATE, DEFAULT_RULES);
    expect(small.outcome).toBe('licensed');
  });

  it('inside an expired or suspended mining permit is expired_permit (and unlicensed is flagged too)', () => {
    for (const over of [{ valid_to: '2025-12-31' }, { status: 'suspended' as const }]) {
      const idx = createRuleIndex(layers({ permits: [permit('C9', P, over)] }));
      const c = classifySite(site(rect(100, 100, 300, 300)), idx, DATE, DEFAULT_RULES);
      expect(c.outcome).toBe('alert');
      if (c.outcome !== 'alert') continue;
      expect(c.category).toBe('expired_permit');
      expect(c.permitId).toBe('C9');
      expect(c.flags).toEqual(['expired_permit', 'unlicensed']);
    }
  });

  it('touching a closed site or protected area; precedence puts protected_area first', () => {
    const idx = createRuleIndex(layers({
      closedSites: [{ id: 'CS1', geometry: rect(3000, 0, 3100, 100), properties: {} }],
      protectedAreas: [{ id: 'RL1', geometry: rect(3050, 0, 4000, 1000), properties: {} }],
    }));
    const both = classifySite(site(rect(2950, 0, 3080, 100)), idx, DATE, DEFAULT_RULES);
    expect(both.outcome === 'alert' && both.flags).toEqual(['protected_area', 'closed_site_reactivated', 'unlicensed']);
    expect(both.outcome === 'alert' && both.category).toBe('protected_area');
    const closed = classifySite(site(rect(2900, 0, 3020, 100)), idx, DATE, DEFAULT_RULES);
    expect(closed.outcome === 'alert' && closed.category).toBe('closed_site_reactivated');
  });

  it('licensed activity inside a protected area still alerts', () => {
    const idx = createRuleIndex(layers({ permits: [permit('C1', P)], protectedAreas: [{ id: 'RL1', geometry: rect(500, 500, 2000, 2000), properties: {} }] }));
    const c = classifySite(site(rect(550, 550, 700, 700)), idx, DATE, DEFAULT_RULES);
    expect(c.outcome === 'alert' && c.flags).toEqual(['protected_area']);
  });

  it('outside is measured against adjacent valid permits together', () => {
    const idx = createRuleIndex(layers({ permits: [permit('C1', P), permit('C2', rect(1000, 0, 2000, 1000))] }));
    const c = classifySite(site(rect(900, 100, 1100, 300)), idx, DATE, DEFAULT_RULES);
    expect(c.outcome).toBe('licensed');
  });

  it('a site is routed to the jurisdiction holding most of its area', () => {
    const idx = createRuleIndex(layers({
      jurisdictions: [
        { id: '360728', geometry: rect(-5000, -5000, 1020, 5000), properties: { code: '360728', name: '定南县' } },
        { id: '360727', geometry: rect(1020, -5000, 5000, 5000), properties: { code: '360727', name: '龙南市' } },
      ],
    }));
    expect(jurisdictionOf(site(rect(1000, 0, 1200, 100)), idx)?.code).toBe('360727');
    expect(jurisdictionOf(site(rect(900, 0, 1050, 100)), idx)?.code).toBe('360728');
  });

  it('settings are honoured (mmu, near distance)', () => {
    const idx = createRuleIndex(layers({ permits: [permit('C1', P)] }));
    const s = site(rect(1150, 0, 1250, 100));
    expect(classifySite(s, idx, DATE, DEFAULT_RULES).outcome === 'alert').toBe(true);
    const wide = classifySite(s, idx, DATE, { ...DEFAULT_RULES, nearPermitM: 200 });
    expect(wide.outcome === 'alert' && wide.category).toBe('out_of_bounds');
    expect(classifySite(s, idx, DATE, { ...DEFAULT_RULES, mmuHa: 2 }).outcome).toBe('ignored');
  });
});
