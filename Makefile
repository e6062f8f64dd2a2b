# chromavault: hand-written Makefile; dependencies through pkg-config.
# Targets: all test unit e2e demo asan asan-e2e lint fuzz verify-floats bench install clean

PREFIX    ?= /usr/local
BUILD     ?= build
CC        ?= cc
CXX       ?= c++
PKGS      := sqlite3 jansson libzstd libcrypto libcurl libxxhash
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS)) -lm
CMOCKA_LIBS := $(shell pkg-config --libs cmocka)
DRAGONBOX_INC ?= $(firstword $(wildcard /usr/include/dragonbox-*))

WARN      := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
             -Wno-unused-parameter -Wvla
OPT       ?= -O2 -g
CFLAGS    ?= $(OPT)
CXXFLAGS  ?= $(OPT)
ALL_CFLAGS   = -std=c17 -D_GNU_SOURCE -pthread $(WARN) -Isrc $(PKG_CFLAGS) $(CFLAGS) $(XCFLAGS)
ALL_CXXFLAGS = -std=c++17 -pthread -Wall -Wextra -fno-exceptions -fno-rtti -Isrc \
               -I$(DRAGONBOX_INC) $(CXXFLAGS) $(XCFLAGS)
ALL_LDFLAGS  = -pthread $(LDFLAGS) $(XLDFLAGS)

LIB_C     := $(sort $(wildcard src/util/*.c src/chroma/*.c src/hnsw/*.c src/net/*.c src/repo/*.c))
LIB_CXX   := $(sort $(wildcard src/util/*.cc))
CLI_C     := $(sort $(wildcard src/cli/*.c))
LIB_OBJ   := $(LIB_C:%.c=$(BUILD)/%.o) $(LIB_CXX:%.cc=$(BUILD)/%.o)
CLI_OBJ   := $(CLI_C:%.c=$(BUILD)/%.o)
LIB_A     := $(BUILD)/libchromavault.a
CLI_A     := $(BUILD)/libcli.a
BIN       := $(BUILD)/chromavault
UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC  := $(sort $(wildcard tests/fuzz/fuzz_*.c))

.PHONY: all test unit e2e demo asan asan-e2e lint fuzz verify-floats bench install clean deps

all: $(BIN)

deps:
	bash scripts/install-deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(ALL_CXXFLAGS) -MMD -MP -c $< -o $@

$(LIB_A): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(CLI_A): $(CLI_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/src/main.o $(CLI_A) $(LIB_A)
	$(CXX) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(CLI_A) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(CLI_A) $(LIB_A) $(ALL_LDFLAGS) $(TEST_LDFLAGS) $(PKG_LIBS) $(CMOCKA_LIBS) -lstdc++

# test_capture deletes files between a folder's listing and their stat.
$(BUILD)/tests/test_capture: TEST_LDFLAGS := -Wl,--wrap=stat -Wl,--wrap=lstat

unit: $(UNIT_BIN)
	@bash tests/run-unit.sh $(UNIT_BIN)

e2e: $(BIN)
	@bash tests/e2e/run.sh

# The README's test command: dependencies, build, unit and end-to-end tests,
# then the unit and end-to-end tests again under AddressSanitizer and UBSan.
test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BIN)
	@bash tests/run-all.sh $(BUILD) $(UNIT_BIN)

demo: deps $(BIN)
	@bash scripts/demo.sh $(BIN)

ASAN_MAKE := $(MAKE) --no-print-directory BUILD=build-asan CC=clang CXX=clang++ \
	XCFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
	XLDFLAGS="-fsanitize=address,undefined" OPT="-O1 -g"
asan:
	@$(ASAN_MAKE) unit

# The end-to-end tests again with the binary built under ASan and UBSan.
asan-e2e:
	@$(ASAN_MAKE) build-asan/chromavault >/dev/null
	@CV=$(CURDIR)/build-asan/chromavault bash tests/e2e/run.sh

lint:
	cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability \
		--inline-suppr --suppress=missingIncludeSystem -D_GNU_SOURCE \
		--include=/usr/include/jansson.h -Isrc src
	clang-tidy --quiet $(LIB_C) $(CLI_C) -- $(ALL_CFLAGS)

FUZZ_CFLAGS := -std=c17 -D_GNU_SOURCE -Isrc $(PKG_CFLAGS) -g -O1 \
               -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
fuzz: $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
	@bash tests/fuzz/run.sh $(BUILD)/fuzz $(FUZZ_SECONDS)

$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB_C) $(LIB_CXX)
	@mkdir -p $(dir $@)
	clang++ -std=c++17 -Isrc -I$(DRAGONBOX_INC) -O1 -g -fsanitize=address,undefined -c src/util/fmtfloat.cc -o $@.fmtfloat.o
	clang $(FUZZ_CFLAGS) -o $@ $< $(LIB_C) $@.fmtfloat.o $(PKG_LIBS) -lstdc++
	rm -f $@.fmtfloat.o

verify-floats: $(BUILD)/tools/verify-floats
	$(BUILD)/tools/verify-floats

$(BUILD)/tools/verify-floats: tests/tools/verify-floats.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -O3 -o $@ $< $(LIB_A) $(ALL_LDFLAGS) $(PKG_LIBS) -lstdc++

bench: $(BIN)
	bash bench/run.sh

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/chromavault

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
