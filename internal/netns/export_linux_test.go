package netns

// Internals the external tests inspect: the namespace handle, to identify
// the namespace, and a fresh handle on the calling thread's namespace.
var OpenThreadNetNS = openThreadNetNS

func FD(ns *NS) int { return ns.fd }
