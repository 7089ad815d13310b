#!/usr/bin/env bash
# Exercises Deploy/Containerfile's steps without a container engine (issue 20: "where a container
# engine is available the file builds; otherwise its steps are exercised by the same script in a
# clean directory"). It reads the Containerfile itself, so a changed step is a changed check:
#   build stage: the packages its apt-get line names must be installed (Deploy/install-deps.sh);
#     its COPY lines copy the same paths into a clean directory (the WORKDIR); its RUN lines run
#     there (the image's /out is a directory of the scratch space);
#   runtime stage: every shared library the binary needs must come from a package the stage's
#     apt-get line installs or from the slim base image's own packages; then the binary runs as the
#     stage's non-root uid (setpriv; a passwd entry for it made for the run, as the stage's useradd
#     does, when this machine has none) in a home of its own, with the stage's ENV
#     and CMD (`serve` on its private PostgreSQL), on free ports; the HEALTHCHECK command must pass;
#     STOPSIGNAL must stop it with exit status 0.
# A clean release build with a static Swift runtime takes a long time (20+ minutes on 2 cores):
# BINARY=path/to/karokar-server skips the build stage and checks that binary in the runtime stage.
#   bash Deploy/check-container.sh
#   BINARY=.build/release/karokar-server bash Deploy/check-container.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
file=Deploy/Containerfile
[ "$(id -u)" = 0 ] || { echo "run as root: the runtime stage runs the server as another uid" >&2; exit 1; }
scratch="$(mktemp -d /tmp/karokar-container.XXXXXX)"
server=""
created_user=""
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then kill -KILL "$server" 2>/dev/null || true; fi
  if [ -n "$created_user" ]; then
    # Whatever still runs as it (its private PostgreSQL may outlive a killed server) goes first:
    # userdel refuses a user that has processes.
    pkill -KILL -u "$created_user" 2>/dev/null || true
    for _ in $(seq 1 20); do pgrep -u "$created_user" >/dev/null || break; sleep 0.5; done
    userdel "$created_user" || echo "could not remove the user $created_user made for the check" >&2
  fi
  rm -rf "$scratch"
}
trap cleanup EXIT

# The Containerfile's instructions, continuation lines joined, comments dropped: "STAGE<TAB>LINE".
instructions() {
  awk '
    /^[[:space:]]*#/ { next }
    { line = line $0 }
    /\\$/ { sub(/\\$/, "", line); next }
    line ~ /^FROM / { stage++ }
    line != "" { print stage "\t" line }
    { line = "" }
  ' "$file"
}
packages_of() {  # the apt-get install line's packages in stage $1
  instructions | awk -F'\t' -v s="$1" '$1 == s && $2 ~ /^RUN .*apt-get/' | sed 's/.*--no-install-recommends//; s/&&.*//' | tr -s ' ' '\n' | grep -v '^$' || true
}

echo "== build stage"
missing=()
for package in $(packages_of 1); do dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package"); done
if [ ${#missing[@]} -gt 0 ]; then echo "missing packages of the build stage: ${missing[*]} (bash Deploy/install-deps.sh)" >&2; exit 1; fi
echo "  packages installed: $(packages_of 1 | tr '\n' ' ')"
if [ -n "${BINARY:-}" ]; then
  binary="$(cd "$(dirname "$BINARY")" && pwd)/$(basename "$BINARY")"
  echo "  skipped (BINARY=$BINARY)"
else
  workdir="$scratch/build"
  while IFS=$'\t' read -r stage line; do
    [ "$stage" = 1 ] || continue
    case "$line" in
      WORKDIR*) mkdir -p "$scratch/build"; workdir="$scratch/build";;
      COPY*)
        read -r -a words <<<"${line#COPY }"
        for source in "${words[@]:0:${#words[@]}-1}"; do cp -a "$source" "$workdir/"; done
        echo "  COPY ${line#COPY }";;
      RUN*apt-get*) ;;
      RUN*)
        command="${line#RUN }"
        command="${command//\/out\//$scratch/out/}"
        echo "  RUN ${line#RUN }"
        (cd "$workdir" && bash -euo pipefail -c "$command") 2>&1 | tail -3 | sed 's/^/    /';;
    esac
  done < <(instructions)
  binary="$scratch/out/karokar-server"
fi
[ -x "$binary" ] || { echo "no binary at $binary" >&2; exit 1; }

echo "== runtime stage"
runtime_packages=$(packages_of 2)
# What debian:bookworm-slim has without installing anything (its Essential and Required packages
# that programs link against).
base_packages="libc6 libgcc-s1 libstdc++6 zlib1g libzstd1 liblzma5 libbz2-1.0 libselinux1 libpcre2-8-0 libcrypt1 libtinfo6 libudev1 libsystemd0 libcap2 libgcrypt20 libgpg-error0 liblz4-1 libacl1 libattr1 libmd0 libdb5.3 libaudit1 libcap-ng0 libpam0g libsemanage2 libsepol2 libseccomp2 libsmartcols1 libuuid1 libblkid1 libmount1"
# A package the runtime stage installs brings its dependencies (libpq5: libssl3, libkrb5-3, ...).
closure="$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances \
  $runtime_packages 2>/dev/null | sed -n 's/^ *\(Pre\)\{0,1\}Depends: //p; /^[a-z0-9]/p' | tr -d '<>' | sed 's/:any$//' | sort -u)"
unexpected=()
while read -r library; do
  owner="$(dpkg -S "$(readlink -f "$library")" 2>/dev/null | head -1 | cut -d: -f1)" || owner=""
  [ -n "$owner" ] || owner="$(dpkg -S "$library" 2>/dev/null | head -1 | cut -d: -f1)" || owner=""
  if [ -z "$owner" ] || ! printf '%s\n' $runtime_packages $base_packages $closure | grep -qx "$owner"; then
    unexpected+=("$library (${owner:-no package})")
  fi
done < <(ldd "$binary" | awk '/=> \// {print $3}')
if [ ${#unexpected[@]} -gt 0 ]; then
  echo "libraries the runtime stage does not install: ${unexpected[*]}" >&2
  exit 1
fi
echo "  every shared library comes from the stage's packages ($(echo $runtime_packages)) or the base image"
for package in $runtime_packages; do dpkg -s "$package" >/dev/null 2>&1 || { echo "runtime package $package is not installed here" >&2; exit 1; }; done

uid="$(instructions | awk -F'\t' '$1 == 2 && $2 ~ /useradd/' | grep -oE -- '--uid [0-9]+' | awk '{print $2}')"
[ -n "$uid" ] || { echo "the runtime stage creates no user with --uid" >&2; exit 1; }
user_line="$(instructions | awk -F'\t' '$1 == 2 && $2 ~ /^USER /' | cut -f2)"
[ -n "$user_line" ] || { echo "the runtime stage has no USER: it would run as root" >&2; exit 1; }
home="$scratch/home"
mkdir -p "$home" "$scratch/bin"
# The image's useradd makes the uid a user (initdb, for one, refuses a uid without a passwd entry):
# so here, for the run, when this machine has none.
if ! getent passwd "$uid" >/dev/null; then
  useradd --system --uid "$uid" --no-create-home --home-dir "$home" "karokar-check-$uid"
  created_user="karokar-check-$uid"
fi
cp "$binary" "$scratch/bin/karokar-server"
chown -R "$uid:$uid" "$home"
chmod 755 "$scratch" "$scratch/bin"
# ENV, with the ports moved to free ones (the image's are fixed; this machine may use them).
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
admin_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
env_line="$(instructions | awk -F'\t' '$1 == 2 && $2 ~ /^ENV /' | cut -f2)"
read -r -a env_pairs <<<"${env_line#ENV }"
environment=(HOME="$home" PATH=/usr/sbin:/usr/bin:/sbin:/bin)
for pair in "${env_pairs[@]}"; do
  case "$pair" in KAROKAR_ADMIN_PORT=*) pair="KAROKAR_ADMIN_PORT=$admin_port";; esac
  environment+=("$pair")
done
environment+=(KAROKAR_PORT="$port")
cmd="$(instructions | awk -F'\t' '$1 == 2 && $2 ~ /^CMD /' | cut -f2 | sed 's/^CMD \[//; s/\]$//; s/"//g; s/,/ /g')"
stop_signal="$(instructions | awk -F'\t' '$1 == 2 && $2 ~ /^STOPSIGNAL /' | cut -f2 | awk '{print $2}')"
echo "  USER uid $uid, ENV ${env_line#ENV } (ports $port, $admin_port), CMD $cmd, STOPSIGNAL $stop_signal"
(cd "$home" && exec env -i "${environment[@]}" setpriv --reuid "$uid" --regid "$uid" --clear-groups \
  "$scratch/bin/karokar-server" $cmd >"$scratch/server.log" 2>&1) &
server=$!
# The HEALTHCHECK's own command, against the admin port given here.
health="$(instructions | awk -F'\t' '$1 == 2 && $2 ~ /^HEALTHCHECK /' | cut -f2 | sed 's/.*CMD \[//; s/\]$//')"
health_script="$(python3 -c 'import json,sys; print(json.loads("[" + sys.argv[1] + "]")[-1])' "$health")"
health_script="${health_script//9420/$admin_port}"
healthy=0
for _ in $(seq 1 240); do
  if ! kill -0 "$server" 2>/dev/null; then break; fi
  if bash -c "$health_script" >/dev/null 2>&1; then healthy=1; break; fi
  sleep 0.5
done
if [ $healthy = 0 ]; then
  echo "the HEALTHCHECK did not pass within 120 s; the server's log:" >&2
  tail -30 "$scratch/server.log" >&2
  exit 1
fi
echo "  HEALTHCHECK passes (the server runs as uid $uid on its private PostgreSQL)"
kill -s "$stop_signal" "$server"
status=0
wait "$server" || status=$?
if [ "$status" != 0 ]; then
  echo "after $stop_signal the server exited with status $status; its log:" >&2
  tail -30 "$scratch/server.log" >&2
  exit 1
fi
server=""
echo "  $stop_signal: exit status 0"
echo "container steps: OK"
