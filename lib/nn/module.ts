/**
 * Module: a tree of named parameters, Hugging Face style. A module's parameters and children are
 * addressed by dotted paths (`model.layers.0.self_attn.q_proj.weight`), which are exactly the
 * tensor names of HF checkpoints, so a state dict loads without renaming.
 * @module
 */
import { noGrad, type Tensor } from "../../ffi/mod.ts";

/** A module that maps one tensor to one tensor (usable in {@link Sequential}). */
export interface Layer {
  /** Maps x to the layer's output. */
  forward(x: Tensor): Tensor;
}

/** Error for a state dict that does not fit a module. */
export class StateDictError extends Error {
  /** Error name. */
  override name = "StateDictError";
}

/** Base class: registers parameters and child modules under names, and walks them. */
export class Module {
  /** Training mode (dropout active) or evaluation mode. */
  training = true;
  readonly #params = new Map<string, Tensor>();
  readonly #children = new Map<string, Module>();

  /**
   * Registers (or replaces) a parameter; the module owns it from now on. Its requires-grad flag is
   * kept as given (layers create trainable parameters; loaded base weights are usually frozen).
   */
  protected registerParameter(name: string, t: Tensor): Tensor {
    const old = this.#params.get(name);
    if (old && old !== t && !old.isDisposed) old.dispose();
    this.#params.set(name, t.keep());
    return t;
  }

  /** A parameter of this module (not of descendants) by local name; throws when missing. */
  getParameter(name: string): Tensor {
    const t = this.#params.get(name);
    if (!t) throw new StateDictError(`no parameter "${name}"`);
    return t;
  }

  /** Whether this module has a local parameter `name`. */
  hasParameter(name: string): boolean {
    return this.#params.has(name);
  }

  /** Registers (or replaces) a child module. Returns it. */
  registerModule<M extends Module>(name: string, m: M): M {
    this.#children.set(name, m);
    return m;
  }

  /** The direct children, by name. */
  children(): [string, Module][] {
    return [...this.#children];
  }

  /** A descendant module by dotted path; throws when missing. */
  getSubmodule(path: string): Module {
    return path.split(".").reduce<Module>((m, part) => {
      const next = m.#children.get(part);
      if (!next) throw new StateDictError(`no submodule "${path}" (missing "${part}")`);
      return next;
    }, this);
  }

  /**
   * Replaces a descendant module by dotted path (e.g. to wrap a Linear with LoRA). The parent's
   * registry and, when the parent keeps the child in a field of the same name (`this.q_proj`), that
   * field are updated together; then the parent's {@link Module.childrenChanged} hook runs.
   */
  setSubmodule(path: string, replacement: Module): void {
    const parts = path.split(".");
    const last = parts.pop()!;
    const parent = parts.length ? this.getSubmodule(parts.join(".")) : this;
    const old = parent.#children.get(last);
    if (!old) throw new StateDictError(`no submodule "${path}"`);
    parent.#children.set(last, replacement);
    if (Object.hasOwn(parent, last) && Reflect.get(parent, last) === old) {
      Reflect.set(parent, last, replacement);
    }
    parent.childrenChanged();
  }

  /**
   * Hook for modules that derive state from their children (e.g. fused inference weights): runs
   * after a child was replaced, and for every module on {@link Module.treeChanged}. Default: none.
   */
  protected childrenChanged(): void {}

  /**
   * Tells every module of the tree that children or their weights changed in place (e.g. LoRA
   * weights merged into the base), so state derived from them is re-derived.
   */
  treeChanged(): void {
    for (const [, m] of this.namedModules()) m.childrenChanged();
  }

  /** Every descendant module with its dotted path (this module first, as ""). */
  namedModules(prefix = ""): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, child] of this.#children) {
      out.push(...child.namedModules(prefix ? `${prefix}.${name}` : name));
    }
    return out;
  }

  /** Every parameter with its dotted name. */
  namedParameters(prefix = ""): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [name, t] of this.#params) out.push([prefix ? `${prefix}.${name}` : name, t]);
    for (const [name, child] of this.#children) {
      out.push(...child.namedParameters(prefix ? `${prefix}.${name}` : name));
    }
    return out;
  }

  /** Every parameter. */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Parameters that currently require gradients. */
  trainableParameters(): [string, Tensor][] {
    return this.namedParameters().filter(([, t]) => t.requiresGrad);
  }

  /** Parameters by dotted name (the tensors themselves, not copies). */
  stateDict(): Map<string, Tensor> {
    return new Map(this.namedParameters());
  }

  /**
   * Copies values into the parameters by name (cast to each parameter's dtype/device). With
   * `strict` (default), a missing or unexpected name is an error; shapes must always match.
   */
  loadStateDict(state: Map<string, Tensor>, strict = true): void {
    const own = this.stateDict();
    if (strict) {
      const missing = [...own.keys()].filter((k) => !state.has(k));
      const extra = [...state.keys()].filter((k) => !own.has(k));
      if (missing.length || extra.length) {
        throw new StateDictError(
          `state dict does not match: missing [${missing.join(", ")}], unexpected [${
            extra.join(", ")
          }]`,
        );
      }
    }
    noGrad(() => {
      for (const [name, src] of state) {
        const dst = own.get(name);
        if (!dst) continue;
        if (dst.shape.join() !== src.shape.join()) {
          throw new StateDictError(
            `${name}: shape [${src.shape}] does not match the parameter's [${dst.shape}]`,
          );
        }
        dst.copy_(src);
      }
    });
  }

  /** Sets training mode on this module and all descendants. Returns `this`. */
  train(on = true): this {
    for (const [, m] of this.namedModules()) m.training = on;
    return this;
  }

  /** Sets evaluation mode (dropout off). Returns `this`. */
  eval(): this {
    return this.train(false);
  }

  /** Stops gradients for every parameter (in place). Returns `this`. */
  freeze(): this {
    for (const t of this.parameters()) t.requiresGrad_(false);
    return this;
  }

  /** Turns gradients on for every floating-point parameter. Returns `this`. */
  unfreeze(): this {
    for (const t of this.parameters()) t.requiresGrad_(true);
    return this;
  }

  /** Frees every parameter of this module tree (children through their own `dispose`). */
  dispose(): void {
    for (const t of this.#params.values()) if (!t.isDisposed) t.dispose();
    for (const m of this.#children.values()) m.dispose();
  }
}

/**
 * An indexed list of modules registered as children `"0"`, `"1"`, … (PyTorch's `ModuleList`), so
 * their parameters are named `layers.3.…`.
 */
export class ModuleList<M extends Module> extends Module {
  readonly #items: M[];

  /** Registers `items` under their indices. */
  constructor(items: M[]) {
    super();
    this.#items = [...items];
    this.#items.forEach((m, i) => this.registerModule(String(i), m));
  }

  /** The modules in order (a read-only view; replace one with `setSubmodule("i", m)`). */
  get items(): readonly M[] {
    return this.#items;
  }

  /** Keeps the list in step with a replaced child. */
  protected override childrenChanged(): void {
    this.children().forEach(([name, m]) => (this.#items[Number(name)] = m as M));
  }
}
