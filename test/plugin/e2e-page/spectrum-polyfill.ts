/**
 * Browser stand-ins for the Spectrum UXP widgets (UXP renders `sp-*` natively; Chromium does not), so
 * the real panel bundle can be driven in headless Chromium. Each wraps a native control in an open
 * shadow root and exposes the properties and events the panel's wrappers use: value, checked,
 * selectedIndex, input/change. Keyboard focus works through the native controls.
 */
function reemit(host: HTMLElement, inner: HTMLElement, type: string): void {
  inner.addEventListener(type, (ev) => {
    ev.stopPropagation();
    host.dispatchEvent(new Event(type, { bubbles: true }));
  });
}

const CSS = `:host{display:block;margin:2px 0;font:12px sans-serif;color:inherit}
label{display:block;color:inherit} input,textarea,select,button{font:inherit;box-sizing:border-box}
input[type=text],input[type=password],input[type=number],textarea,select{width:100%;padding:3px;background:rgba(128,128,128,.14);color:inherit;border:1px solid rgba(128,128,128,.6);border-radius:3px}
input[type=range]{width:100%}`;

function shell(host: HTMLElement, inner: string): ShadowRoot {
  const root = host.attachShadow({ mode: 'open' });
  root.innerHTML = `<style>${CSS}</style>${inner}`;
  return root;
}

class SpButton extends HTMLElement {
  connectedCallback() {
    if (this.shadowRoot) return;
    const root = shell(this, '<button part="button"><slot></slot></button>');
    const button = root.querySelector('button')!;
    this.style.display = 'inline-block';
    button.addEventListener('click', (ev) => {
      if (this.hasAttribute('disabled')) ev.stopPropagation();
    });
    new MutationObserver(() => (button.disabled = this.hasAttribute('disabled'))).observe(this, { attributes: true });
    button.disabled = this.hasAttribute('disabled');
    if (this.getAttribute('variant') === 'cta') button.style.cssText = 'background:#1473e6;color:#fff;border:0;border-radius:12px;padding:4px 14px';
  }
}

class SpTextField extends HTMLElement {
  private input!: HTMLInputElement;
  private pending = '';
  connectedCallback() {
    if (this.shadowRoot) return;
    const type = this.getAttribute('type') ?? 'text';
    const root = shell(this, `<label><slot name="label"></slot><input type="${type}"></label>`);
    this.input = root.querySelector('input')!;
    this.input.placeholder = this.getAttribute('placeholder') ?? '';
    this.input.value = this.pending;
    new MutationObserver(() => (this.input.disabled = this.hasAttribute('disabled'))).observe(this, { attributes: true });
  }
  get value(): string {
    return this.input ? this.input.value : this.pending;
  }
  set value(v: string) {
    this.pending = v;
    if (this.input && this.input.value !== v) this.input.value = v;
  }
}

class SpTextArea extends HTMLElement {
  private area!: HTMLTextAreaElement;
  private pending = '';
  connectedCallback() {
    if (this.shadowRoot) return;
    const root = shell(this, '<label><slot name="label"></slot><textarea rows="2"></textarea></label>');
    this.area = root.querySelector('textarea')!;
    this.area.placeholder = this.getAttribute('placeholder') ?? '';
    this.area.value = this.pending;
  }
  get value(): string {
    return this.area ? this.area.value : this.pending;
  }
  set value(v: string) {
    this.pending = v;
    if (this.area && this.area.value !== v) this.area.value = v;
  }
}

class SpCheckbox extends HTMLElement {
  private box!: HTMLInputElement;
  private pending = false;
  connectedCallback() {
    if (this.shadowRoot) return;
    const root = shell(this, '<label><input type="checkbox"> <slot></slot></label>');
    this.box = root.querySelector('input')!;
    this.box.checked = this.pending || this.hasAttribute('checked');
    reemit(this, this.box, 'change');
    const sync = () => (this.box.disabled = this.hasAttribute('disabled'));
    new MutationObserver(sync).observe(this, { attributes: true });
    sync();
  }
  get checked(): boolean {
    return this.box ? this.box.checked : this.pending;
  }
  set checked(v: boolean) {
    this.pending = v;
    if (this.box) this.box.checked = v;
  }
}

class SpSlider extends HTMLElement {
  private range!: HTMLInputElement;
  private pending: number | null = null;
  connectedCallback() {
    if (this.shadowRoot) return;
    const root = shell(this, '<label><slot name="label"></slot><input type="range"></label>');
    this.range = root.querySelector('input')!;
    const sync = () => {
      for (const a of ['min', 'max', 'step']) this.range.setAttribute(a, this.getAttribute(a) ?? '');
      this.range.disabled = this.hasAttribute('disabled');
    };
    sync();
    new MutationObserver(sync).observe(this, { attributes: true });
    this.range.value = String(this.pending ?? this.getAttribute('value') ?? 0);
  }
  get value(): number {
    return this.range ? Number(this.range.value) : (this.pending ?? 0);
  }
  set value(v: number) {
    this.pending = v;
    if (this.range) this.range.value = String(v);
  }
}

class SpPicker extends HTMLElement {
  private select!: HTMLSelectElement;
  private pending = 0;
  connectedCallback() {
    if (this.shadowRoot) return;
    const root = shell(this, '<select></select>');
    this.select = root.querySelector('select')!;
    this.select.addEventListener('change', () => (this.pending = this.select.selectedIndex));
    reemit(this, this.select, 'change');
    const rebuild = () => {
      const items = Array.from(this.querySelectorAll('sp-menu-item'));
      this.select.innerHTML = '';
      for (const item of items) {
        const o = document.createElement('option');
        o.textContent = item.textContent;
        o.disabled = item.hasAttribute('disabled');
        this.select.appendChild(o);
      }
      // UXP marks the chosen item with a `selected` attribute; follow it like the real widget.
      const marked = items.findIndex((item) => item.hasAttribute('selected'));
      if (marked >= 0) this.pending = marked;
      this.select.selectedIndex = this.pending;
      this.select.disabled = this.hasAttribute('disabled');
    };
    new MutationObserver(rebuild).observe(this, { subtree: true, childList: true, characterData: true, attributes: true });
    rebuild();
  }
  get selectedIndex(): number {
    return this.select ? this.select.selectedIndex : this.pending;
  }
  set selectedIndex(i: number) {
    this.pending = i;
    if (this.select) this.select.selectedIndex = i;
  }
}

class SpProgressBar extends HTMLElement {
  connectedCallback() {
    if (this.shadowRoot) return;
    const root = shell(this, '<label><slot name="label"></slot><progress style="width:100%"></progress></label>');
    const bar = root.querySelector('progress')!;
    const sync = () => {
      bar.max = Number(this.getAttribute('max') ?? 1);
      bar.value = Number(this.getAttribute('value') ?? 0);
    };
    sync();
    new MutationObserver(sync).observe(this, { attributes: true });
  }
}

export function defineSpectrumPolyfills(): void {
  const defs: Array<[string, CustomElementConstructor]> = [
    ['sp-button', SpButton], ['sp-textfield', SpTextField], ['sp-textarea', SpTextArea], ['sp-checkbox', SpCheckbox],
    ['sp-slider', SpSlider], ['sp-picker', SpPicker], ['sp-progressbar', SpProgressBar],
  ];
  for (const [name, ctor] of defs) if (!customElements.get(name)) customElements.define(name, ctor);
}
