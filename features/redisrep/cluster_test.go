package redisrep_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"fraudwatch/features/redisrep"
	"fraudwatch/features/reptest"
	"fraudwatch/models"
)

// clusterAddrs returns the seed nodes of the test Redis Cluster from
// FW_TEST_REDIS_CLUSTER_ADDRS (scripts/test starts one with
// scripts/redis-cluster). Without it the test is skipped, except under CI.
func clusterAddrs(tb testing.TB) []string {
	tb.Helper()
	v := os.Getenv("FW_TEST_REDIS_CLUSTER_ADDRS")
	if v == "" {
		if os.Getenv("CI") != "" {
			tb.Fatal("FW_TEST_REDIS_CLUSTER_ADDRS is not set and CI is: the Redis Cluster tests must run in CI")
		}
		tb.Skip("FW_TEST_REDIS_CLUSTER_ADDRS is not set: start a cluster with scripts/redis-cluster start DIR and set it to the addresses it prints")
	}
	return strings.Split(v, ",")
}

// nodeTrips counts pipelines per cluster node (by address), handshakes
// excepted.
type nodeTrips struct {
	mu    sync.Mutex
	byAdr map[string]int
}

func (n *nodeTrips) hook(addr string) redis.Hook { return nodeHook{n: n, addr: addr} }

func (n *nodeTrips) take() map[string]int {
	n.mu.Lock()
	defer n.mu.Unlock()
	m := n.byAdr
	n.byAdr = map[string]int{}
	return m
}

type nodeHook struct {
	n    *nodeTrips
	addr string
}

func (h nodeHook) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h nodeHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h nodeHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && !handshake(cmds[0]) {
			h.n.mu.Lock()
			h.n.byAdr[h.addr]++
			h.n.mu.Unlock()
		}
		return next(ctx, cmds)
	}
}

// clusterEnv is one test's store on the shared test cluster, under its own
// prefix, through go-redis's cluster client.
type clusterEnv struct {
	*redisrep.Store
	client *redis.ClusterClient
	prefix string
	trips  *nodeTrips
}

func newClusterEnv(tb testing.TB) *clusterEnv {
	tb.Helper()
	trips := &nodeTrips{byAdr: map[string]int{}}
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: clusterAddrs(tb)})
	client.OnNewNode(func(c *redis.Client) { c.AddHook(trips.hook(c.Options().Addr)) })
	tb.Cleanup(func() { _ = client.Close() })
	prefix := "fwtest:" + randHex(6) + ":"
	s, err := redisrep.New(client, redisrep.Config{Prefix: prefix})
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	if err := s.LoadScript(ctx); err != nil {
		tb.Fatal(err)
	}
	e := &clusterEnv{Store: s, client: client, prefix: prefix, trips: trips}
	tb.Cleanup(func() {
		keys, _ := e.keys(ctx)
		for k := range keys {
			client.Del(ctx, k)
		}
	})
	trips.take()
	return e
}

// keys lists this test's keys on every master, with the node holding each.
func (e *clusterEnv) keys(ctx context.Context) (map[string]string, error) {
	var mu sync.Mutex
	out := map[string]string{}
	err := e.client.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		ks, err := scan(ctx, node, e.prefix)
		mu.Lock()
		defer mu.Unlock()
		for _, k := range ks {
			out[k] = node.Options().Addr
		}
		return err
	})
	return out, err
}

// TTLs implements reptest.Inspector over every master.
func (e *clusterEnv) TTLs(ctx context.Context) (map[string]time.Duration, error) {
	keys, err := e.keys(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]time.Duration, len(keys))
	for k := range keys {
		ttl, err := e.client.PTTL(ctx, k).Result()
		if err != nil {
			return nil, err
		}
		out[k] = ttl
	}
	return out, nil
}

func TestClusterConformance(t *testing.T) {
	reptest.Run(t, func(t *testing.T) reptest.Store { return newClusterEnv(t) })
}

// sendersOnEveryNode returns n senders per master of the cluster: their
// keys hash to that master's slots.
func sendersOnEveryNode(t *testing.T, e *clusterEnv, n int) map[string][]string {
	t.Helper()
	ctx := context.Background()
	var count atomic.Int64 // ForEachMaster calls concurrently
	_ = e.client.ForEachMaster(ctx, func(context.Context, *redis.Client) error { count.Add(1); return nil })
	masters := int(count.Load())
	out := map[string][]string{}
	for i := 0; i < 10000; i++ {
		sender := fmt.Sprintf("v1:%032x", i)
		node, err := e.client.MasterForKey(ctx, e.prefix+"{"+sender+"}:c")
		if err != nil {
			t.Fatal(err)
		}
		addr := node.Options().Addr
		if len(out[addr]) < n {
			out[addr] = append(out[addr], sender)
		}
		if len(out) == masters && func() bool {
			for _, s := range out {
				if len(s) < n {
					return false
				}
			}
			return true
		}() {
			return out
		}
	}
	t.Fatalf("could not find %d senders on each of %d masters: %v", n, masters, out)
	return nil
}

// A batch whose senders live on every node costs one pipeline per node,
// sent together: the store counts it as one round trip, go-redis splits
// it by node. A redelivery of the same batch costs the same.
func TestClusterPipelinesGoPerNode(t *testing.T) {
	ctx := context.Background()
	e := newClusterEnv(t)
	byNode := sendersOnEveryNode(t, e, 20)
	if len(byNode) < 3 {
		t.Fatalf("the test cluster has %d masters, want 3", len(byNode))
	}
	var batch []models.Observation
	for _, senders := range byNode {
		for i, s := range senders {
			batch = append(batch, msg(fmt.Sprintf("%s-%d", s, i), s, fmt.Sprintf("emp-%d", i%7), t0))
		}
	}
	for round, name := range []string{"first delivery", "redelivery"} {
		before := e.RoundTrips()
		got, err := e.Observe(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range got {
			if s.Events != 1 || s.Replayed != (round == 1) {
				t.Fatalf("%s: snapshot %d = %+v, want one event, replayed %v", name, i, s, round == 1)
			}
		}
		if d := e.RoundTrips() - before; d != 1 {
			t.Errorf("%s: the store counted %d round trips, want 1", name, d)
		}
		perNode := e.trips.take()
		for addr := range byNode {
			if perNode[addr] != 1 {
				t.Errorf("%s: node %s got %d pipelines, want 1 (all: %v)", name, addr, perNode[addr], perNode)
			}
		}
		if len(perNode) != len(byNode) {
			t.Errorf("%s: pipelines went to %v, want one to each of %d masters", name, perNode, len(byNode))
		}
	}
}

// Every key of one sender carries the sender's hash tag and so lives in
// one slot, on one node: that is what lets each observation's script run
// atomically on a cluster. Campaign keys share their own tag.
func TestClusterKeysOfASenderShareOneSlot(t *testing.T) {
	ctx := context.Background()
	e := newClusterEnv(t)
	byNode := sendersOnEveryNode(t, e, 3)
	var batch []models.Observation
	n := 0
	for _, senders := range byNode {
		for _, s := range senders {
			n++
			o := msg(fmt.Sprintf("ev-%d", n), s, fmt.Sprintf("emp-%d", n), t0)
			o.Fingerprint = make(models.Fingerprint, models.FingerprintLen)
			for i := range o.Fingerprint {
				o.Fingerprint[i] = uint32(i * 7919)
			}
			batch = append(batch, o, models.Observation{EventID: fmt.Sprintf("call-%d", n), SenderHash: s, Employee: "emp-x", Kind: models.KindCall, Missed: true, ShortCall: true, TS: t0})
		}
	}
	if _, err := e.Observe(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := e.ApplyFeedback(ctx, []models.Feedback{{ID: "fb-1", SenderHash: batch[0].SenderHash, Verdict: models.FeedbackLegit, AllowFor: time.Hour}}); err != nil {
		t.Fatal(err)
	}
	keys, err := e.keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	type place struct {
		slot int64
		node string
	}
	byTag := map[string]map[place][]string{}
	for k, node := range keys {
		open, end := strings.IndexByte(k, '{'), strings.IndexByte(k, '}')
		if open < 0 || end < open {
			t.Errorf("key %q has no hash tag", k)
			continue
		}
		slot, err := e.client.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		tag := k[open+1 : end]
		if byTag[tag] == nil {
			byTag[tag] = map[place][]string{}
		}
		byTag[tag][place{slot, node}] = append(byTag[tag][place{slot, node}], k)
	}
	if len(byTag) != n+1 { // every sender, and the campaigns
		t.Errorf("%d hash tags, want %d senders and the campaign tag", len(byTag), n)
	}
	nodes := map[string]bool{}
	for tag, places := range byTag {
		if len(places) != 1 {
			t.Errorf("keys of tag %s are spread over %d slots or nodes: %v", tag, len(places), places)
		}
		for p, ks := range places {
			nodes[p.node] = true
			sort.Strings(ks)
			if tag != "camp" && len(ks) < 5 {
				t.Errorf("sender %s has keys %q, want counters, window, pair, short-call window and event ids", tag, ks)
			}
		}
	}
	if len(nodes) < 3 {
		t.Errorf("keys on %d nodes, want all 3", len(nodes))
	}
}

// Dial picks the cluster client for several addresses, or for one with
// Cluster set, and the store works through it.
func TestClusterDial(t *testing.T) {
	ctx := context.Background()
	addrs := clusterAddrs(t)
	e := newClusterEnv(t) // for a prefix whose keys are cleaned up
	for _, tt := range []struct {
		name string
		opts redisrep.Options
	}{
		{"every seed node", redisrep.Options{Addrs: addrs}},
		{"one seed node marked as a cluster", redisrep.Options{Addrs: addrs[:1], Cluster: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := redisrep.Dial(ctx, tt.opts, redisrep.Config{Prefix: e.prefix})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			byNode := sendersOnEveryNode(t, e, 1)
			var batch []models.Observation
			for _, senders := range byNode {
				batch = append(batch, msg("dial-"+tt.name+senders[0], senders[0], "emp-1", t0))
			}
			if _, err := s.Observe(ctx, batch); err != nil {
				t.Fatalf("Observe through Dial(%v): %v", tt.opts.Addrs, err)
			}
			if err := s.Ping(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("a single node address without Cluster is not a cluster client", func(t *testing.T) {
		// A cluster node answers keys of other nodes' slots with MOVED,
		// which only the cluster client follows.
		s, err := redisrep.Dial(ctx, redisrep.Options{Addrs: addrs[:1]}, redisrep.Config{Prefix: e.prefix})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		byNode := sendersOnEveryNode(t, e, 1)
		var batch []models.Observation
		for _, senders := range byNode {
			batch = append(batch, msg("single-"+senders[0], senders[0], "emp-1", t0))
		}
		if _, err := s.Observe(ctx, batch); err == nil || !strings.Contains(err.Error(), "MOVED") {
			t.Fatalf("Observe through a single-node client on a cluster: err = %v, want MOVED", err)
		}
	})
}

// A master that lost the scripts (restart, failover to a replica that
// never loaded them) answers NOSCRIPT; the store reloads them on every
// master and reruns only the calls that failed.
func TestClusterRecoversFromAMasterThatLostTheScripts(t *testing.T) {
	ctx := context.Background()
	e := newClusterEnv(t)
	byNode := sendersOnEveryNode(t, e, 2)
	var flushed bool
	err := e.client.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		if node.Options().Addr != clusterAddrs(t)[0] {
			return nil
		}
		flushed = true
		return node.ScriptFlush(ctx).Err()
	})
	if err != nil || !flushed {
		t.Fatalf("SCRIPT FLUSH on %s: %v (found: %v)", clusterAddrs(t)[0], err, flushed)
	}
	var batch []models.Observation
	for _, senders := range byNode {
		for _, s := range senders {
			batch = append(batch, msg("lost-"+s, s, "emp-1", t0))
		}
	}
	got, err := e.Observe(ctx, batch)
	if err != nil {
		t.Fatalf("Observe after one master lost the scripts: %v", err)
	}
	for i, s := range got {
		if s.Events != 1 || s.Replayed {
			t.Errorf("snapshot %d = %+v, want one counted event", i, s)
		}
	}
}

func BenchmarkClusterObserveBatch(b *testing.B) {
	e := newClusterEnv(b)
	reptest.Bench(b, e.Store)
}

// The least-privilege ACL rule is enough for the cluster client too (it
// needs the cluster topology): set on every node, the user observes
// senders on every node.
func TestClusterWithTheLeastPrivilegeACL(t *testing.T) {
	ctx := context.Background()
	e := newClusterEnv(t)
	user, password := "fwtest-"+randHex(4), "pw-"+randHex(12)
	args := []any{"ACL", "SETUSER", user}
	for _, f := range strings.Fields(redisrep.ACLRule(e.prefix, password)) {
		args = append(args, f)
	}
	err := e.client.ForEachShard(ctx, func(ctx context.Context, node *redis.Client) error {
		return node.Do(ctx, args...).Err()
	})
	t.Cleanup(func() {
		_ = e.client.ForEachShard(context.Background(), func(ctx context.Context, node *redis.Client) error {
			return node.Do(ctx, "ACL", "DELUSER", user).Err()
		})
	})
	if err != nil {
		t.Fatalf("ACL SETUSER on every node: %v", err)
	}
	s, err := redisrep.Dial(ctx, redisrep.Options{Addrs: clusterAddrs(t), Username: user, Password: password}, redisrep.Config{Prefix: e.prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var batch []models.Observation
	for _, senders := range sendersOnEveryNode(t, e, 2) {
		for _, sender := range senders {
			o := msg("acl-"+sender, sender, "emp-1", t0)
			o.Fingerprint = make(models.Fingerprint, models.FingerprintLen)
			batch = append(batch, o)
		}
	}
	if _, err := s.Observe(ctx, batch); err != nil {
		t.Fatalf("Observe on the cluster as the restricted user: %v", err)
	}
	if err := s.ApplyFeedback(ctx, []models.Feedback{{ID: "fb", SenderHash: batch[0].SenderHash, Verdict: models.FeedbackFraud}}); err != nil {
		t.Fatal(err)
	}
}
