#!/usr/bin/env bats
# The repository's own checks fail on what they claim to catch: each is
# run on a small fake that breaks its rule once.

load helpers

# fake_build DIR: object files laid out as shim/meson.build lays them out,
# one per layer, each defining ck_fake_<layer>; extra C in $DIR/<layer>.c.
fake_build() {
    local dir=$1 layer
    for layer in core hiredis state ops policy api; do
        mkdir -p "$dir/shim/libck_$layer.a.p"
        { echo "void ck_fake_$layer(void);"; echo "void ck_fake_$layer(void) {}"; cat "$dir/$layer.c" 2> /dev/null || true; } \
            > "$dir/${layer}_src.c"
        cc -c -o "$dir/shim/libck_$layer.a.p/${layer}_fake.c.o" "$dir/${layer}_src.c"
    done
    mkdir -p "$dir/shim/libcachekit_shim.so.p"
    echo 'void ck_fake_shim(void); void ck_fake_shim(void) {}' > "$dir/shim_src.c"
    cc -c -o "$dir/shim/libcachekit_shim.so.p/shim.c.o" "$dir/shim_src.c"
}

@test "check-layers: passes a downward call, fails an upward one, a weak upward one, and a circle" {
    local T=$BATS_TEST_TMPDIR
    mkdir "$T/down" "$T/up" "$T/weak" "$T/circle"
    echo 'void ck_fake_core(void); void ck_call_down(void); void ck_call_down(void) { ck_fake_core(); }' > "$T/down/api.c"
    fake_build "$T/down"
    run "$CK_ROOT/scripts/check-layers" "$T/down"
    [ "$status" -eq 0 ]
    echo 'void ck_fake_ops(void); void ck_call_up(void); void ck_call_up(void) { ck_fake_ops(); }' > "$T/up/core.c"
    fake_build "$T/up"
    run "$CK_ROOT/scripts/check-layers" "$T/up"
    [ "$status" -eq 1 ]
    [[ "$output" == *"core/fake uses ck_fake_ops from ops/fake, a higher layer"* ]]
    printf '%s\n' 'extern void ck_fake_api(void) __attribute__((weak));' \
        'void ck_call_up(void); void ck_call_up(void) { if (ck_fake_api) ck_fake_api(); }' > "$T/weak/state.c"
    fake_build "$T/weak"
    run "$CK_ROOT/scripts/check-layers" "$T/weak"
    [ "$status" -eq 1 ]
    [[ "$output" == *"state/fake uses ck_fake_api from api/fake, a higher layer"* ]]
    # two files of one layer calling each other
    mkdir -p "$T/circle"
    fake_build "$T/circle"
    printf '%s\n' 'void ck_b(void); void ck_a(void); void ck_a(void) { ck_b(); }' > "$T/circle/a.c"
    printf '%s\n' 'void ck_a(void); void ck_b(void); void ck_b(void) { ck_a(); }' > "$T/circle/b.c"
    cc -c -o "$T/circle/shim/libck_policy.a.p/policy_a.c.o" "$T/circle/a.c"
    cc -c -o "$T/circle/shim/libck_policy.a.p/policy_b.c.o" "$T/circle/b.c"
    run "$CK_ROOT/scripts/check-layers" "$T/circle"
    [ "$status" -eq 1 ]
    [[ "$output" == *"in a circle"*"policy/a"* ]]
}

@test "check-bats: a bare ! before a test's end fails, as the last command it passes" {
    printf '%s\n' '@test "x" {' '    ! false' '    true' '}' > "$BATS_TEST_TMPDIR/bad.bats"
    printf '%s\n' '@test "y" {' '    true' '    ! false' '}' > "$BATS_TEST_TMPDIR/good.bats"
    run "$CK_ROOT/scripts/check-bats" "$BATS_TEST_TMPDIR/bad.bats"
    [ "$status" -eq 1 ]
    [[ "$output" == *"bad.bats:2: a bare"* ]]
    run "$CK_ROOT/scripts/check-bats" "$BATS_TEST_TMPDIR/good.bats"
    [ "$status" -eq 0 ]
}

@test "check-exports: the shim passes; a library exporting other functions fails" {
    run "$CK_ROOT/scripts/check-exports" "$CK_SHIM_FILE"
    [ "$status" -eq 0 ]
    printf '%s\n' 'int cachekit_health(char *b, unsigned long n) { (void)b; return (int)n; }' \
        'int ck_helper_left_visible(void) { return 1; }' > "$BATS_TEST_TMPDIR/lib.c"
    cc -shared -fPIC -o "$BATS_TEST_TMPDIR/lib.so" "$BATS_TEST_TMPDIR/lib.c"
    run "$CK_ROOT/scripts/check-exports" "$BATS_TEST_TMPDIR/lib.so"
    [ "$status" -eq 1 ]
    [[ "$output" == *"only exported: ck_helper_left_visible"* ]]
}
