// vigilctl: see and control vigild over its D-Bus API. See vigilctl(1).

#include "ctl/Vigilctl.h"

int main(int argc, char** argv) {
  return vigil::ctl::run(argc, argv);
}
