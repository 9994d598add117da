//go:build !race

package epollnet

// raceBuild reports a build with the race detector (race_on.go).
const raceBuild = false
