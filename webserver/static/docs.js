// Starts Swagger UI on /openapi.json. A file of its own, not inline, so the page's policy admits scripts from
// this origin only.
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // Requests go to the origin that served the page; the validator badge would call a third-party service.
    validatorUrl: null,
    tryItOutEnabled: false,
    displayRequestDuration: true,
    // The bearer token stays in this page's memory: a reload signs out instead of leaving it in localStorage.
    persistAuthorization: false,
  });
});
