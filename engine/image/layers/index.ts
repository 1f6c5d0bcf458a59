export { extractLayer } from './extract-layer.js';
export { LAYER_MEDIA_TYPE_GZIP, LAYER_MEDIA_TYPE_TAR, type LayerDigests, packLayer } from './pack-layer.js';
