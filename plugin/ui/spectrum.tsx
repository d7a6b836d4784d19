/**
 * Typed Spectrum UXP widgets. UXP renders `sp-*` tags natively; they are not Web Components, React does
 * not wire their events, and boolean attributes must be present or absent (not "false"). So each wrapper
 * listens through a ref and passes booleans as `true | undefined`, as Adobe's React notes advise.
 */
import { useEffect, useRef, type CSSProperties, type Key, type ReactNode, type Ref } from 'react';

interface SpBase {
  class?: string;
  id?: string;
  key?: Key;
  ref?: Ref<HTMLElement>;
  style?: CSSProperties;
  title?: string;
  slot?: string;
  role?: string;
  tabIndex?: number;
  children?: ReactNode;
  'aria-label'?: string;
  'data-testid'?: string;
}

type Flag = true | undefined;

declare module 'react' {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace JSX {
    interface IntrinsicElements {
      'sp-button': SpBase & { variant?: 'cta' | 'primary' | 'secondary' | 'warning'; quiet?: Flag; disabled?: Flag };
      'sp-action-button': SpBase & { quiet?: Flag; disabled?: Flag };
      'sp-textfield': SpBase & { value?: string; placeholder?: string; type?: 'text' | 'number' | 'password' | 'search'; disabled?: Flag; quiet?: Flag };
      'sp-textarea': SpBase & { value?: string; placeholder?: string; disabled?: Flag };
      'sp-checkbox': SpBase & { checked?: Flag; disabled?: Flag };
      'sp-slider': SpBase & { min?: number; max?: number; step?: number; value?: number; disabled?: Flag; 'show-value'?: Flag; 'value-label'?: string };
      'sp-picker': SpBase & { placeholder?: string; disabled?: Flag; size?: 's' | 'm' };
      'sp-menu': SpBase;
      'sp-menu-item': SpBase & { selected?: Flag; value?: string; disabled?: Flag };
      'sp-progressbar': SpBase & { max?: number; value?: number; 'show-value'?: Flag; 'value-label'?: string; size?: 'small' };
      'sp-divider': SpBase & { size?: 'small' | 'medium' | 'large' };
      'sp-heading': SpBase & { size?: 'XXS' | 'XS' | 'S' | 'M' };
      'sp-body': SpBase & { size?: 'XS' | 'S' | 'M' };
      'sp-detail': SpBase & { size?: 'S' | 'M' };
      'sp-label': SpBase & { slot?: string };
    }
  }
}

export function flag(on: boolean): Flag {
  return on ? true : undefined;
}

/** Listens to `type` on the element behind `ref` with the latest handler. */
function useListener<E extends HTMLElement>(type: string, handler: (el: E, ev: Event) => void) {
  const ref = useRef<E>(null);
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const listener = (ev: Event) => latest.current(el, ev);
    el.addEventListener(type, listener);
    return () => el.removeEventListener(type, listener);
  }, [type]);
  return ref;
}

/** Keeps a DOM property in step with React state (attributes alone do not update a widget's live value). */
function useProperty<E extends HTMLElement>(ref: React.RefObject<E | null>, name: string, value: unknown) {
  useEffect(() => {
    const el = ref.current as unknown as Record<string, unknown> | null;
    if (el && el[name] !== value) el[name] = value;
  }, [ref, name, value]);
}

export function Button(props: {
  children: ReactNode;
  onPress: () => void;
  variant?: 'cta' | 'primary' | 'secondary' | 'warning';
  quiet?: boolean;
  disabled?: boolean;
  testId?: string;
  title?: string;
}) {
  const ref = useListener<HTMLElement>('click', () => {
    if (!props.disabled) props.onPress();
  });
  return (
    <sp-button ref={ref} variant={props.variant ?? 'primary'} quiet={flag(!!props.quiet)} disabled={flag(!!props.disabled)} data-testid={props.testId} title={props.title}>
      {props.children}
    </sp-button>
  );
}

export function TextField(props: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  onEnter?: () => void;
  placeholder?: string;
  type?: 'text' | 'number' | 'password';
  disabled?: boolean;
  testId?: string;
}) {
  const ref = useListener<HTMLElement>('input', (el) => props.onChange(String((el as unknown as { value: unknown }).value ?? '')));
  useProperty(ref, 'value', props.value);
  useEffect(() => {
    const el = ref.current;
    if (!el || !props.onEnter) return;
    const onKey = (ev: KeyboardEvent) => {
      if (ev.key === 'Enter') props.onEnter?.();
    };
    el.addEventListener('keydown', onKey);
    return () => el.removeEventListener('keydown', onKey);
  });
  return (
    <sp-textfield ref={ref} value={props.value} placeholder={props.placeholder} type={props.type ?? 'text'} disabled={flag(!!props.disabled)} data-testid={props.testId} aria-label={props.label}>
      <sp-label slot="label">{props.label}</sp-label>
    </sp-textfield>
  );
}

export function TextArea(props: { label: string; value: string; onChange: (value: string) => void; placeholder?: string; testId?: string }) {
  const ref = useListener<HTMLElement>('input', (el) => props.onChange(String((el as unknown as { value: unknown }).value ?? '')));
  useProperty(ref, 'value', props.value);
  return (
    <sp-textarea ref={ref} value={props.value} placeholder={props.placeholder} data-testid={props.testId} aria-label={props.label}>
      <sp-label slot="label">{props.label}</sp-label>
    </sp-textarea>
  );
}

export function Checkbox(props: { children: ReactNode; checked: boolean; onChange: (checked: boolean) => void; disabled?: boolean; testId?: string }) {
  const ref = useListener<HTMLElement>('change', (el) => props.onChange(Boolean((el as unknown as { checked: unknown }).checked)));
  useProperty(ref, 'checked', props.checked);
  return (
    <sp-checkbox ref={ref} checked={flag(props.checked)} disabled={flag(!!props.disabled)} data-testid={props.testId}>
      {props.children}
    </sp-checkbox>
  );
}

/** A 0…1 slider value as the panel shows it: "60 %". */
export const percent = (v: number): string => `${Math.round(v * 100)} %`;

export function Slider(props: {
  label: string;
  value: number;
  min: number;
  max: number;
  step?: number;
  onChange: (value: number) => void;
  disabled?: boolean;
  format?: (value: number) => string;
  testId?: string;
}) {
  const read = (el: HTMLElement) => {
    const v = Number((el as unknown as { value: unknown }).value);
    if (Number.isFinite(v)) props.onChange(Math.min(props.max, Math.max(props.min, v)));
  };
  const ref = useListener<HTMLElement>('input', read);
  useProperty(ref, 'value', props.value);
  return (
    <sp-slider ref={ref} min={props.min} max={props.max} step={props.step ?? 1} value={props.value} disabled={flag(!!props.disabled)} data-testid={props.testId}>
      <sp-label slot="label">
        {props.label}: <span className="value">{props.format ? props.format(props.value) : String(props.value)}</span>
      </sp-label>
    </sp-slider>
  );
}

export interface PickerOption {
  readonly key: string;
  readonly label: string;
  readonly disabled?: boolean;
}

/** A dropdown (sp-picker + sp-menu); reports the chosen option's key. */
export function Picker(props: { label: string; options: readonly PickerOption[]; selected: string; onChange: (key: string) => void; disabled?: boolean; testId?: string }) {
  const ref = useListener<HTMLElement>('change', (el) => {
    const index = Number((el as unknown as { selectedIndex: unknown }).selectedIndex);
    const option = props.options[index];
    if (option) props.onChange(option.key);
  });
  const index = Math.max(0, props.options.findIndex((o) => o.key === props.selected));
  useProperty(ref, 'selectedIndex', index);
  return (
    <div className="field">
      <sp-label>{props.label}</sp-label>
      <sp-picker ref={ref} disabled={flag(!!props.disabled)} data-testid={props.testId} aria-label={props.label} size="m">
        <sp-menu slot="options">
          {props.options.map((o, i) => (
            <sp-menu-item key={o.key} value={o.key} selected={flag(i === index)} disabled={flag(!!o.disabled)}>
              {o.label}
            </sp-menu-item>
          ))}
        </sp-menu>
      </sp-picker>
    </div>
  );
}

export function ProgressBar(props: { label: string; value: number; max: number; testId?: string }) {
  return (
    <sp-progressbar max={props.max} value={props.value} value-label={`${props.value}/${props.max}`} data-testid={props.testId} aria-label={props.label}>
      <sp-label slot="label">{props.label}</sp-label>
    </sp-progressbar>
  );
}
