// Identity module factory (the class is header-only).
#include "layers/identity.h"

namespace nl {

ModulePtr make_identity(ConfigReader& cfg, const LayerArgs& args) {
  cfg.get_int("features", args.features, "ignored (accepted so norm configs can switch type)", 0);
  return std::make_shared<Identity>();
}

}  // namespace nl
