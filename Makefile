# pptp-analysis: Wireshark plugin, Zeek package and the Python harness that proves them.
# `make help` lists the targets. Every target that needs tools depends on `setup`, which
# installs what is missing and nothing else.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV      ?= .venv
PYTHON    ?= python3
HARNESS   := python_harness
VENV_OK   := $(VENV)/.installed
BIN       := $(VENV)/bin
DEMO_DIR  ?= build/demo
PLUGIN    := lua_dissector/pptp.lua
PLUGIN_MODULES := $(wildcard lua_dissector/pptp_analysis/*.lua)
# Where `make install` puts the plugin's folder (empty: ask tshark, see plugin_dir below).
LUA_PLUGIN_DIR ?=
PLUGIN_NAME := pptp-analysis
PYTEST_ARGS ?=

# Zeek: the PATH's, else one in a usual prefix (put first on the PATH of every recipe, so
# zeek, zeek-cut, spicyz and zkg are found). Empty where Zeek is not installed.
ZEEK_PREFIXES := /opt/zeek /usr/local/zeek
ZEEK_BIN := $(shell z=$$(command -v zeek 2>/dev/null) && dirname "$$z" || for p in $(ZEEK_PREFIXES); do if [ -x $$p/bin/zeek ]; then echo $$p/bin; break; fi; done)
ifneq ($(ZEEK_BIN),)
export PATH := $(ZEEK_BIN):$(PATH)
endif
ZEEK_ANALYZER := zeek_scripts/build/pptp_gre.hlto
ZEEK_ANALYZER_SOURCES := $(wildcard zeek_scripts/analyzer/*)
NO_ZEEK := zeek is not installed: the Zeek tests are skipped (README, section Zeek: build Zeek 8.0 with Spicy into /opt/zeek)

# Run apt-get as root, through sudo, or explain what to do.
define apt_install
	if [ "$$(id -u)" = 0 ]; then SUDO=; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=sudo; \
	else echo "error: $(1) is missing and installing it needs root: run 'sudo apt-get install $(2)' and retry" >&2; exit 1; fi; \
	echo "Installing $(2) with apt-get ..."; \
	echo "wireshark-common wireshark-common/install-setuid boolean false" | $$SUDO debconf-set-selections 2>/dev/null || true; \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq; \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $(2) >/dev/null
endef

# Sets the shell variable `dir` to the plugin's folder: LUA_PLUGIN_DIR if given; otherwise, as
# root, Wireshark's global Lua plugin folder (Wireshark 4.2 and later load no personal plugins
# for root), else the personal one, as `tshark -G folders` (Help > About > Folders) names them.
define plugin_dir
	dir='$(LUA_PLUGIN_DIR)'; \
	if [ -z "$$dir" ]; then \
		kind=Personal; if [ "$$(id -u)" = 0 ]; then kind=Global; fi; \
		command -v tshark >/dev/null 2>&1 || { echo "error: tshark is not installed (make tools), or give LUA_PLUGIN_DIR=folder" >&2; exit 1; }; \
		dir=$$(tshark -G folders 2>/dev/null | sed -n "s/^$$kind Lua Plugins:[[:space:]]*//p"); \
		[ -n "$$dir" ] || { echo "error: tshark -G folders names no $$kind Lua Plugins folder: give LUA_PLUGIN_DIR=folder" >&2; exit 1; }; \
	fi
endef

.PHONY: help
help:  ## list the targets
	@awk -F':.*## ' '/^[a-z-]+:.*## /{printf "  make %-22s%s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: setup
setup: tools $(VENV_OK)  ## install tshark, luacheck, Lua, the venv with the harness and its tools (only what is missing)

.PHONY: tools
tools:  ## install the system tools (tshark, luacheck, Lua 5.2 and 5.4) if they are missing
	@command -v tshark >/dev/null 2>&1 || { $(call apt_install,tshark,tshark); }
	@command -v luacheck >/dev/null 2>&1 || { $(call apt_install,luacheck,lua-check); }
	@command -v lua5.2 >/dev/null 2>&1 && command -v lua5.4 >/dev/null 2>&1 || { $(call apt_install,lua5.2 and lua5.4,lua5.2 lua5.4); }

$(VENV_OK): $(HARNESS)/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '$(HARNESS)[test,lint]'
	@touch $@

.PHONY: demo
demo: setup zeek-analyzer  ## synthesize a sample PPTP session and show how tshark and our plugin (and Zeek with our package, where installed) decode it
	$(BIN)/pptp-harness demo -o $(DEMO_DIR) --lua $(PLUGIN)

# The plugin is a folder: the entry and its modules. An earlier release's single file
# (pptp-analysis.lua) is removed, so that one copy loads.
.PHONY: install
install:  ## install the Wireshark plugin's folder: as root for all users, else for you (LUA_PLUGIN_DIR=, DESTDIR=)
	@$(plugin_dir); \
	target="$(DESTDIR)$$dir/$(PLUGIN_NAME)"; \
	rm -rf "$$target" "$$target.lua"; \
	install -d "$$target/pptp_analysis"; \
	install -m 644 $(PLUGIN) "$$target/"; \
	install -m 644 $(PLUGIN_MODULES) "$$target/pptp_analysis/"; \
	echo "installed $$target: restart Wireshark to load it"

.PHONY: uninstall
uninstall:  ## remove the Wireshark plugin that `make install` installed (same LUA_PLUGIN_DIR=, DESTDIR=)
	@$(plugin_dir); \
	target="$(DESTDIR)$$dir/$(PLUGIN_NAME)"; \
	rm -rf "$$target" "$$target.lua"; \
	echo "removed $$target"

.PHONY: test
test: setup lint  ## lint, then every test: harness, tshark (this machine's Wireshark and the other generations'), fuzzing, Zeek
	$(MAKE) --no-print-directory pytest
	$(MAKE) --no-print-directory zeek-test
	$(MAKE) --no-print-directory test-other-wireshark

.PHONY: pytest
pytest: setup zeek-analyzer  ## the harness's tests on this machine's tshark (and Zeek, where installed)
	HYPOTHESIS_PROFILE=ci $(BIN)/pytest $(HARNESS)/tests $(PYTEST_ARGS)

.PHONY: zeek-test
zeek-test: setup zeek-analyzer  ## the Zeek package's btest suite (each test skips where zeek is not installed)
	@if [ -z "$(ZEEK_BIN)" ]; then echo "$(NO_ZEEK)"; else \
		cd zeek_scripts/testing && PATH="$(abspath $(BIN)):$$PATH" $(abspath $(BIN))/btest -j -d; fi

.PHONY: zeek-analyzer
zeek-analyzer:  ## compile the Zeek package's Spicy GRE analyzer where Zeek has Spicy (zkg does this on install)
	@if [ -n "$(ZEEK_BIN)" ] && [ -x "$(ZEEK_BIN)/spicyz" ]; then $(MAKE) --no-print-directory $(ZEEK_ANALYZER); fi

$(ZEEK_ANALYZER): $(ZEEK_ANALYZER_SOURCES)
	zeek_scripts/analyzer/build

.PHONY: test-other-wireshark
test-other-wireshark: setup  ## as root: `make pytest` on the other Wireshark generations (of 4.0, 4.4 and 4.6), each in a cached Debian root filesystem, as root and as a user
	@if [ "$$(id -u)" = 0 ] && ! command -v debootstrap >/dev/null 2>&1; then $(call apt_install,debootstrap,debootstrap); fi
	$(BIN)/pptp-harness rootfs test

.PHONY: bench
bench: setup  ## speed and memory of the plugin and the Zeek package against the built-ins, state bounds, fuzzing rate; the plugin on the other Wireshark generations too
	$(BIN)/pptp-harness bench --lua $(PLUGIN) -o build/bench
	@if [ "$$(id -u)" = 0 ] && ! command -v debootstrap >/dev/null 2>&1; then $(call apt_install,debootstrap,debootstrap); fi
	$(BIN)/pptp-harness rootfs bench --as user

.PHONY: bench-zeek
bench-zeek: setup  ## the Zeek package's speed and memory against bare Zeek only (sessions, ordinary traffic, state bounds)
	$(BIN)/pptp-harness bench --lua $(PLUGIN) -o build/bench --zeek-only

.PHONY: bench-tshark
bench-tshark: setup  ## the plugin's speed and memory against the built-ins only (what `make bench` runs on the other Wireshark)
	$(BIN)/pptp-harness bench --lua $(PLUGIN) -o build/bench --tshark-only

# make fuzz CASES=… | PACKETS=… | DURATION=seconds, SEED=…, JOBS=… (default: all cores)
CASES    ?=
PACKETS  ?=
DURATION ?=
SEED     ?= 0
JOBS     ?=
FUZZ_LIMITS = $(if $(CASES),--cases $(CASES)) $(if $(PACKETS),--packets $(PACKETS)) \
	$(if $(DURATION),--duration $(DURATION))

.PHONY: fuzz
fuzz: setup  ## fuzz campaign (CASES= PACKETS= DURATION= SEED= JOBS=); failures go to testdata/regressions
	$(BIN)/pptp-harness fuzz --lua $(PLUGIN) $(FUZZ_LIMITS) --seed $(SEED) $(if $(JOBS),--jobs $(JOBS))

.PHONY: replay
replay: setup  ## replay every case in testdata/regressions against the plugin
	$(BIN)/pptp-harness replay --lua $(PLUGIN)

.PHONY: lint
lint: setup  ## ruff, luacheck and zeek-format over their code; the docs' relative links and anchors
	$(BIN)/ruff check $(HARNESS)
	$(BIN)/ruff format --check $(HARNESS)
	$(BIN)/pptp-harness doclinks $$(git ls-files '*.md')
	@lua=$$(find lua_dissector $(HARNESS)/src $(HARNESS)/tests -name '*.lua' 2>/dev/null); \
	if [ -n "$$lua" ]; then luacheck $$lua && luacheck --std lua54 $$lua; else echo "luacheck: no Lua sources yet"; fi
	@zeek=$$(find zeek_scripts -name '*.zeek' 2>/dev/null); \
	if [ -z "$$zeek" ]; then echo "zeek-format: no Zeek scripts yet"; fi; \
	for f in $$zeek; do $(BIN)/zeek-format "$$f" | diff -u "$$f" - || { echo "zeek-format: $$f is not formatted" >&2; exit 1; }; done

.PHONY: testdata
testdata: setup  ## regenerate testdata/scenarios (every scenario pcap and its ground truth)
	rm -f testdata/scenarios/*.pcap testdata/scenarios/*.truth.json
	$(BIN)/pptp-harness generate all -o testdata/scenarios

.PHONY: real-captures
real-captures: setup  ## as root: capture real pptpd and pptp-linux in network namespaces into testdata/real
	@for tool in pptpd pptp tcpdump ethtool; do command -v $$tool >/dev/null 2>&1 || { $(call apt_install,$$tool,pptpd pptp-linux tcpdump ethtool); break; }; done
	$(BIN)/pptp-harness real-captures -o testdata/real

.PHONY: check
check: setup  ## check every pcap in testdata/scenarios against its ground truth (built-ins)
	$(BIN)/pptp-harness check testdata/scenarios/*.pcap

.PHONY: clean
clean:  ## remove build output and caches (keeps the venv)
	rm -rf zeek_scripts/testing/.tmp zeek_scripts/testing/.btest.failed.dat zeek_scripts/build
	rm -rf build .pytest_cache $(HARNESS)/.pytest_cache .ruff_cache $(HARNESS)/.ruff_cache .hypothesis $(HARNESS)/.hypothesis
	find . -name __pycache__ -prune -exec rm -rf {} +

.PHONY: distclean
distclean: clean  ## also remove the venv
	rm -rf $(VENV)
