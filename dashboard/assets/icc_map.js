/* Map drawing functions for dash-leaflet (referenced as {"variable": "iccMap.NAME"}).
 * Served by Dash from dashboard/assets; no outside URLs. Every text shown comes from
 * data and is set with textContent, never as HTML. */
(function () {
  "use strict";
  var TEAM = {
    available: "#2e8b57",
    assigned: "#1f6fb2",
    en_route: "#e69f00",
    on_scene: "#c0392b",
    unavailable: "#7f8c8d",
  };

  function textTip(text) {
    var el = document.createElement("span");
    el.textContent = text == null ? "" : String(text);
    return el;
  }

  // Drawn case ids with the time they were drawn (used by tests and the benchmark).
  window.iccDrawn = window.iccDrawn || new Map();

  // Cases are many: one canvas renderer per map for them (outlines and lines stay SVG).
  function caseRenderer(context) {
    var map = context && context.map;
    if (!map) {
      return undefined;
    }
    if (!map._iccCaseRenderer) {
      map._iccCaseRenderer = L.canvas({ pane: "cases", padding: 0.3 });
    }
    return map._iccCaseRenderer;
  }

  window.iccMap = {
    caseMarker: function (feature, latlng, context) {
      var p = feature.properties || {};
      var linked = p.l === 1;
      var marker = L.circleMarker(latlng, {
        pane: "cases",
        renderer: caseRenderer(context),
        radius: linked ? 6 : 4,
        color: linked ? "#111111" : "#ffffff",
        weight: linked ? 1.5 : 0.8,
        fillColor: p.k || "#4d4d4d",
        fillOpacity: 0.9,
      });
      if (p.t) {
        marker.bindTooltip(function () {
          return textTip(p.t);
        });
      }
      window.iccDrawn.set(p.id, performance.now());
      return marker;
    },
    teamMarker: function (feature, latlng) {
      var p = feature.properties || {};
      var marker = L.circleMarker(latlng, {
        pane: "teams",
        radius: 5,
        color: "#000000",
        weight: 1.5,
        dashArray: "2 2",
        fillColor: TEAM[p.s] || "#7f8c8d",
        fillOpacity: 0.6,
      });
      marker.bindTooltip(function () {
        return textTip(p.t);
      });
      return marker;
    },
    // hideout.alerts maps a county adcode to its alert fill colour (dashboard/alerts.py)
    countyStyle: function (feature, context) {
      var alerts = (context && context.hideout && context.hideout.alerts) || {};
      var fill = alerts[String(feature.properties.adcode)];
      return {
        color: "#8d99a6",
        weight: 0.6,
        opacity: 1.0,
        fillColor: fill || "#eceae4",
        fillOpacity: 1.0,
      };
    },
    seriesStyle: function (feature, context) {
      var selected = context && context.hideout && context.hideout.selected;
      var on = selected && feature.properties.sid === selected;
      return {
        color: on ? "#d0006f" : "#333333",
        weight: on ? 3.5 : 1.6,
        opacity: on ? 1.0 : 0.55,
        dashArray: on ? null : "4 3",
      };
    },
    seriesEach: function (feature, layer) {
      layer.bindTooltip(function () {
        return textTip(feature.properties.t);
      });
    },
  };
})();
