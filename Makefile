# Memorable targets. CI runs .ci/run, which runs the same test command.
GO ?= go

.PHONY: check test test-portable bench vet fmt

check: fmt vet test test-portable

test:
	$(GO) test -race -count=1 ./...

# The library's behavioural tests on the portable backend (Go's net underneath).
test-portable:
	$(GO) test -race -count=1 -tags epollnet_portable ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

vet:
	$(GO) vet ./...
	GOOS=darwin $(GO) vet ./...
	for goos in darwin freebsd windows; do GOOS=$$goos $(GO) build ./... || exit 1; done
	$(GO) vet -tags epollnet_portable ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
