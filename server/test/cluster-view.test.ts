import { describe, expect, it } from 'vitest';
import { keySlot, slotTag } from '../src/targets/node/scan';
import { redirectOf } from '../src/targets/node/redirect';
import { parseClusterNodes, slotOwners, watchedMasters } from '../src/targets/topology/cluster-view';
import { urlAt } from '../src/targets/topology/server-or-cluster';

/** CLUSTER NODES of a 7.0 cluster mid-failover: a master failed (its replica promoted), a slot migrating, a new node. */
const NODES = `
a1 127.0.0.1:7000@17000,node-a.internal myself,master - 0 0 1 connected 0-5460 [5461->-b2]
b2 127.0.0.1:7001@17001 master - 0 1700000000000 2 connected 5461-10922
c3 127.0.0.1:7002@17002 master,fail - 1700000000000 1700000000000 3 disconnected
d4 127.0.0.1:7003@17003 master - 0 1700000000000 7 connected 10923-16383
e5 127.0.0.1:7004@17004 slave a1 0 1700000000000 1 connected
f6 127.0.0.1:7005@17005 master - 0 1700000000000 0 connected
g7 :0@0 master,noaddr - 1700000000000 1700000000000 0 disconnected
h8 127.0.0.1:7007@17007 master,fail? - 1700000000000 1700000000000 8 connected 16000
`;

describe('the cluster as CLUSTER NODES tells it', () => {
  const view = parseClusterNodes(NODES, '10.0.0.1');

  it('reads addresses (the bus port and hostname left out), roles, failure flags and slot ranges (migration markers left out)', () => {
    expect(view.find((n) => n.id === 'a1')).toMatchObject({ address: '127.0.0.1:7000', role: 'master', myself: true, slots: [[0, 5460]] });
    expect(view.find((n) => n.id === 'c3')).toMatchObject({ failed: true, slots: [] });
    expect(view.find((n) => n.id === 'e5')).toMatchObject({ role: 'replica', masterId: 'a1' });
    expect(view.find((n) => n.id === 'g7')).toMatchObject({ address: null, joining: true });
    expect(view.find((n) => n.id === 'h8')).toMatchObject({ suspect: true, failed: false, slots: [[16000, 16000]] });
    // A lone node does not know its own address yet: the one lockscope reached it on stands in.
    expect(parseClusterNodes('z9 :7000@17000 myself,master - 0 0 0 connected 0-16383', '10.0.0.1')[0]!.address).toBe('10.0.0.1:7000');
  });

  it('watches every member master but a failed one without slots (its replica took over) and replicas', () => {
    expect(watchedMasters(view).map((n) => n.id)).toEqual(['a1', 'b2', 'd4', 'f6', 'h8']);
    const owners = slotOwners(view);
    expect([owners[0], owners[5461], owners[16000], owners[16383]]).toEqual(['a1', 'b2', 'h8', 'd4']);
  });
});

describe('redirections', () => {
  it('tells MOVED, ASK, TRYAGAIN and CLUSTERDOWN from answers and other errors', () => {
    expect(redirectOf(new Error('MOVED 3999 127.0.0.1:6381'))).toEqual({ kind: 'moved', slot: 3999, address: '127.0.0.1:6381' });
    expect(redirectOf(new Error('ASK 12 10.1.2.3:7000'))).toEqual({ kind: 'ask', slot: 12, address: '10.1.2.3:7000' });
    expect(redirectOf(new Error('TRYAGAIN Multiple keys request during rehashing of slot'))).toMatchObject({ kind: 'tryagain' });
    expect(redirectOf(new Error('CLUSTERDOWN The cluster is down'))).toMatchObject({ kind: 'down' });
    expect(redirectOf(new Error('NOPERM this user has no permissions'))).toBeNull();
    expect(redirectOf(new Error('ERR MOVED is not a command'))).toBeNull();
  });
});

describe('keys on a given node', () => {
  it('a hash tag for every slot', () => {
    for (const slot of [0, 1, 5460, 5461, 12345, 16383]) expect(keySlot(Buffer.from(`lockscope:state:marker:x${slotTag(slot)}`))).toBe(slot);
  });

  it('the URL of another node keeps scheme and credentials, drops the database', () => {
    expect(urlAt('rediss://app:s3cret@cache.internal:7000/0', '10.0.0.5:7003')).toBe('rediss://app:s3cret@10.0.0.5:7003');
    expect(urlAt('redis://127.0.0.1:7000', '::1:7001')).toBe('redis://[::1]:7001');
  });
});
