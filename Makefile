# Pine: build and install. `make dist` then `make install DESTDIR=... PREFIX=/usr`, as an APKBUILD
# or a Debian package would call it.

PREFIX ?= /usr/local
DESTDIR ?=
CARGO ?= cargo
# pine-init is linked statically for the host's triple; an explicit --target keeps RUSTFLAGS away
# from build scripts and proc macros, which cannot be static.
TARGET ?= $(shell rustc -vV | sed -n 's/^host: //p')
DIST := target/dist

.PHONY: all dist install test demo bench clean

all: dist

dist:
	$(CARGO) build --release --locked -p pine-build -p pine-agent
	RUSTFLAGS="-C target-feature=+crt-static" $(CARGO) build --release --locked -p pine-init --target $(TARGET)
	install -d $(DIST)
	install -m 0755 target/release/pine-build target/release/pine-agent target/release/pinectl $(DIST)/
	install -m 0755 target/$(TARGET)/release/pine-init $(DIST)/

install:
	test -x $(DIST)/pine-build || { echo "run 'make dist' first" >&2; exit 1; }
	install -D -m 0755 $(DIST)/pine-build $(DESTDIR)$(PREFIX)/bin/pine-build
	install -D -m 0755 $(DIST)/pine-agent $(DESTDIR)$(PREFIX)/bin/pine-agent
	install -D -m 0755 $(DIST)/pinectl $(DESTDIR)$(PREFIX)/bin/pinectl
	install -D -m 0755 $(DIST)/pine-init $(DESTDIR)$(PREFIX)/sbin/pine-init
	install -D -m 0755 openrc/pine-agent $(DESTDIR)/etc/init.d/pine-agent
	install -D -m 0644 openrc/pine-agent.confd $(DESTDIR)/etc/conf.d/pine-agent

test:
	bash tests/run.sh

demo:
	bash tests/demo.sh

bench:
	bash bench/builder.sh

clean:
	$(CARGO) clean
