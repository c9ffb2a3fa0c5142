// Must not compile: a queue of a type mp cannot send to another process.
#include <mp/mp.hpp>
#include <string>

struct Opaque {
  std::string name;
};

int main() {
  mp::Queue<Opaque> q;
  q.put(Opaque{"x"});
}
