// Must not compile: an argument type with no serialize() and not trivially copyable.
#include <mp/mp.hpp>
#include <string>
#include <vector>

struct Opaque {
  std::string name;
};
int use(Opaque o) { return static_cast<int>(o.name.size()); }

int main() {
  mp::Pool pool(1);
  pool.map(use, std::vector<Opaque>{{"x"}});
}
