// Progress through the questions, and the clinic's crisis contacts the moment a risk
// question is answered above zero. The page works without it; this only makes it quicker.
(function () {
  "use strict";
  var form = document.getElementById("answers");
  if (!form) { return; }
  var total = parseInt(form.dataset.total, 10) || 0;
  var riskNames = (form.dataset.risk || "").split(" ").filter(Boolean);
  var bar = document.getElementById("progress-bar");
  var text = document.getElementById("progress-text");
  var crisis = document.getElementById("crisis");

  function answered(selector) {
    var names = {};
    form.querySelectorAll(selector).forEach(function (input) {
      names[input.name] = input.value;
    });
    return names;
  }

  function update() {
    var given = answered("input[type=radio]:checked");
    var count = Object.keys(answered("fieldset[data-required] input[type=radio]:checked")).length;
    bar.style.width = total ? (100 * count / total) + "%" : "0";
    text.textContent = count === total
      ? "All " + total + " questions answered: you can send them now"
      : count + " of " + total + " questions answered";
    var risk = riskNames.some(function (name) { return parseInt(given[name] || "0", 10) > 0; });
    if (risk && crisis.hidden) {
      crisis.hidden = false;
    }
  }

  form.addEventListener("change", update);
  update();
  var errors = document.getElementById("form-errors");
  if (errors) { errors.focus(); }
})();
