//go:build linux && !epollnet_portable

package sys

// Backend names the implementation under the engine: "epoll" here.
const Backend = "epoll"
