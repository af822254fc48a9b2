// Starts the vendored Swagger UI or ReDoc on /docs and /redoc. An external file, not an inline
// script, so the CSP keeps script-src 'self' (see app/web/docs.py).
"use strict";
(function () {
  const swagger = document.querySelector("[data-docs=swagger]");
  if (swagger) {
    window.ui = SwaggerUIBundle({
      url: swagger.dataset.openapiUrl,
      dom_id: "#swagger-ui",
      layout: "BaseLayout",
      deepLinking: true,
      showExtensions: true,
      showCommonExtensions: true,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    });
  }
  const redoc = document.querySelector("[data-docs=redoc]");
  if (redoc) {
    // ReDoc styles itself with <style> elements: the nonce of this page's CSP lets them apply;
    // without search it needs no worker from a blob: URL.
    Redoc.init(redoc.dataset.openapiUrl, { disableSearch: true, nonce: redoc.dataset.nonce }, redoc);
  }
})();
