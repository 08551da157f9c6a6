package redisrep

import "strings"

// aclCommands are the commands a Store sends, and those its scripts run:
// script loading, EVALSHA, PING for readiness, the cluster topology for
// the cluster client, and the key commands inside the scripts.
var aclCommands = []string{
	"ping", "evalsha", "script|load", "cluster|slots",
	"get", "set", "del", "exists",
	"hget", "hmget", "hset", "hsetnx", "hincrby", "hgetall", "hlen",
	"pexpire", "zadd", "zcard", "zcount", "zscore", "zremrangebyscore",
}

// ACLRule returns the least-privilege Redis ACL rule (the arguments of ACL
// SETUSER after the user name, or of a `user` line in redis.conf) for a
// Store with the given key prefix and password: only keys under the
// prefix, no pub/sub channels, and only the commands the Store needs, so
// no KEYS, SCAN, FLUSHALL, CONFIG or ad-hoc EVAL. Tests apply it to a real
// server; the README shows it to operators.
func ACLRule(prefix, password string) string {
	var b strings.Builder
	b.WriteString("on >" + password + " resetkeys ~" + prefix + "* resetchannels -@all")
	for _, c := range aclCommands {
		b.WriteString(" +" + c)
	}
	return b.String()
}
