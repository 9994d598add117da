//go:build race

package epollnet

// raceBuild reports a build with the race detector, in which calls that
// must run on a loop goroutine check that they do: a check too slow
// (runtime.Stack) for every build.
const raceBuild = true
