// The new-project form: choosing a task puts its default labels (data-labels, from the server)
// in the labels box, unless the box holds labels of the user's own. Without this script an
// empty box works too: the server gives the task its default labels.
"use strict";

document.addEventListener("change", (event) => {
  const task = event.target.closest('.new-project input[name="task"]');
  if (!task) return;
  const box = task.form.elements.labels;
  const radios = task.form.querySelectorAll('input[name="task"]');
  const defaults = Array.from(radios, (radio) => radio.dataset.labels);
  if (defaults.includes(box.value.trim())) box.value = task.dataset.labels;
});
