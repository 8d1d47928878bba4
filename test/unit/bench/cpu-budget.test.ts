import {expect} from 'chai';
import {cpuBudget, formatCpuBudget} from '../../../bench/cpu-budget.js';

describe('bench/cpu-budget', function () {
  const isInstance = (g: string) => g.startsWith('master') || g.includes('slave');

  it('splits what the goal rate allows per flow between the instances and everything else', function () {
    const b = cpuBudget({
      cores: 2, rawFlowsPerSec: 100_000, goalRatio: 0.5, isController: isInstance,
      perFlowUs: {'master(1)': 20, 'slave(2)': 5, 'entry slave(3)': 6, 'ovs-vswitchd': 7, rabbitmq: 4},
    });
    // 50,000 flows/s on 2 cores: 40 µs per flow in all, 11 of them the switch's and the broker's.
    expect(b).to.deep.equal({goalFlowsPerSec: 50_000, budgetUs: 40, othersUs: 11, leftUs: 29, controllerUs: 31});
    expect(formatCpuBudget(b, 2, 'the 3 instances')).to.equal(
      'cpu budget at the goal (50,000 flows/s on 2 cores): 40 µs/flow in all; the rest spent 11, 29 µs left for the 3 instances; the 3 instances spent 31 (1.1x that)');
  });

  it('says when the rest alone spends more than the goal allows', function () {
    const b = cpuBudget({cores: 2, rawFlowsPerSec: 200_000, goalRatio: 0.5, isController: isInstance, perFlowUs: {'master(1)': 9, 'ovs-vswitchd': 25}});
    expect(b.leftUs).to.equal(-5);
    expect(formatCpuBudget(b, 2, 'the 3 instances')).to.match(/nothing left for the 3 instances; the 3 instances spent 9$/);
  });

  it('refuses figures that make no budget', function () {
    expect(() => cpuBudget({cores: 2, rawFlowsPerSec: 0, goalRatio: 0.5, isController: isInstance, perFlowUs: {}})).to.throw(RangeError, /rawFlowsPerSec/);
    expect(() => cpuBudget({cores: 0, rawFlowsPerSec: 1, goalRatio: 0.5, isController: isInstance, perFlowUs: {}})).to.throw(RangeError, /cores/);
  });
});
