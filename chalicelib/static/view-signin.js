// Sign-in: an API key, checked against the API (its role decides what the console shows).
import { Api } from "./api.js";
import { h, icon } from "./dom.js";
import { t } from "./i18n.js";
import { CONSOLE_ROLES } from "./session.js";
import { errorBox } from "./ui.js";

export function render({ notice, languageButton, onSignedIn }) {
  const input = h("input", {
    id: "api-key", name: "api-key", type: "password", autocomplete: "off", spellcheck: "false", required: true,
    placeholder: "pt_…", "aria-describedby": "key-help", class: "input input-lg",
  });
  const reveal = h("button", {
    type: "button", class: "btn btn-ghost btn-small", "aria-pressed": "false",
    onclick: () => {
      const shown = input.type === "text";
      input.type = shown ? "password" : "text";
      reveal.setAttribute("aria-pressed", shown ? "false" : "true");
      reveal.textContent = shown ? t("signin.show") : t("signin.hide");
    },
  }, t("signin.show"));
  const message = h("div", { class: "signin-message", "aria-live": "assertive" },
    notice ? h("div", { class: "alert alert-warning", role: "alert" }, icon("alert"), h("div", { class: "alert-body" }, notice)) : null);
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block" }, t("signin.submit"));

  const form = h("form", {
    class: "signin-form", novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      const key = input.value.trim();
      message.replaceChildren();
      if (!key) {
        message.append(h("div", { class: "alert alert-error", role: "alert" }, icon("alert"), h("div", { class: "alert-body" }, t("signin.empty"))));
        input.focus();
        return;
      }
      submit.disabled = true;
      submit.textContent = t("signin.checking");
      try {
        const role = await new Api(key, null).whoAmI();
        if (!CONSOLE_ROLES.includes(role)) {
          message.append(h("div", { class: "alert alert-error", role: "alert", "data-error-code": "shop_key" }, icon("alert"),
            h("div", { class: "alert-body" }, h("strong", {}, t("signin.shop_key")), h("p", {}, t("signin.shop_key_hint")))));
          return;
        }
        onSignedIn(key, role);
      } catch (error) {
        message.append(errorBox(error));
        input.select();
      } finally {
        submit.disabled = false;
        submit.textContent = t("signin.submit");
      }
    },
  },
  h("label", { for: "api-key", class: "label" }, t("signin.key_label")),
  h("div", { class: "input-row" }, input, reveal),
  h("p", { id: "key-help", class: "help" }, t("signin.key_help")),
  message,
  submit);

  const page = h("div", { class: "signin" },
    h("div", { class: "signin-top" }, languageButton()),
    h("div", { class: "signin-card" },
      h("div", { class: "signin-brand" }, h("span", { class: "brand-mark brand-mark-lg", "aria-hidden": "true" }, "¥"),
        h("div", {}, h("h1", {}, t("signin.title")), h("p", { class: "muted" }, t("signin.subtitle")))),
      form,
      h("ul", { class: "signin-roles" },
        ["viewer", "operator", "admin"].map((role) => h("li", {}, h("strong", {}, t(`role.${role}`)), " — ", t(`role_hint.${role}`))))),
    h("p", { class: "signin-foot muted" }, t("signin.foot")));
  window.setTimeout(() => input.focus(), 0);
  return page;
}
