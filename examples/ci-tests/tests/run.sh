#!/bin/sh
# The test suite: each check prints PASS or FAIL; the exit code is the number of failures.
failures=0
check() {
  name=$1; expected=$2; actual=$3
  if [ "$actual" = "$expected" ]; then echo "PASS $name"; else echo "FAIL $name: expected '$expected', got '$actual'"; failures=$((failures + 1)); fi
}
check "greets by name" "$EXPECT" "$(wget -q -O - "$APP_URL/cgi-bin/greet?world")"
check "greets nobody" "hello, nobody" "$(wget -q -O - "$APP_URL/cgi-bin/greet")"
check "app found by service name" "0" "$(nslookup app >/dev/null 2>&1; echo $?)"
echo "$failures failure(s)"
exit "$failures"
