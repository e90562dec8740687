# Sourced by the install scripts: `venv NAME REQUIREMENTS CONSTRAINTS` installs the pinned Python
# tool NAME into .tools/NAME (a venv, gitignored) from tests/tools/REQUIREMENTS (top-level pins)
# and tests/tools/CONSTRAINTS (the full frozen set). Idempotent: skipped when the venv's stamp
# matches the hash of both files. Expects $root (the repo) and $python; logs as "$log: ...".

stamp_of() { sha256sum "$@" | sha256sum | cut -c1-16; }

venv() {
    local name=$1 req=$root/tests/tools/$2 con=$root/tests/tools/$3 dir=$root/.tools/$1
    local want; want=$(stamp_of "$req" "$con")
    if [[ -f $dir/.stamp && $(cat "$dir/.stamp") == "$want" ]]; then
        echo "$log: $name up to date"
        return
    fi
    echo "$log: installing $name from tests/tools/$2"
    local t=$SECONDS
    rm -rf "$dir"
    mkdir -p "$root/.tools"
    "$python" -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$req" -c "$con"
    echo "$want" >"$dir/.stamp"
    echo "$log: $name installed in $((SECONDS - t))s"
}
