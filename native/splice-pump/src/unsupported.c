/* splice(2) and epoll are Linux's: elsewhere the addon loads but offers no pump,
 * and svcproxy uses its JavaScript pump (src/native/splice-addon.ts says so in one
 * log line). scripts/build-native.mjs does not even try to build off Linux; this
 * file only keeps a manual `node-gyp rebuild` from failing there. */
#include <node_api.h>

static napi_value init(napi_env env, napi_value exports) { return exports; }

NAPI_MODULE_INIT() { return init(env, exports); }
