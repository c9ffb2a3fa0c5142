// Must not compile: a pointer in shared memory, which means nothing in other processes.
#include <mp/mp.hpp>

int main() {
  int x = 1;
  mp::RawValue<int*> shared(&x);
}
