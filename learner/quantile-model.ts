/** @module learner/quantile-model — a small TensorFlow.js network that predicts a high quantile of a resource from input features, trained with a censoring-aware pinball loss. */
import { tf } from './tf.js';

export interface QuantileModelOptions {
  /** The quantile predicted, e.g. 0.98. */
  quantile: number;
  /** Hidden units; 0 makes the model linear. @default 8 */
  hidden?: number;
  /** Full-batch training steps. @default 150 */
  steps?: number;
  /** @default 0.03 */
  learningRate?: number;
  /** Training samples kept at most (the newest). @default 4000 */
  maxSamples?: number;
  /** Seed for weight initialisation, so training is repeatable. @default 7 */
  seed?: number;
}

export interface TrainingSample {
  features: number[];
  /** The peak, or for a censored sample the limit it hit (the true peak is at least this). */
  value: number;
  censored: boolean;
}

/** What a saved model needs besides its weights: how features and targets were scaled. */
export interface QuantileModelState {
  quantile: number;
  featureMean: number[];
  featureStd: number[];
  targetMean: number;
  targetStd: number;
  samples: number;
  artifacts: { modelTopology: unknown; weightSpecs: unknown; weightData: string };
}

/**
 * Pinball loss at quantile q on log-values; for a censored sample (true value ≥ c) only the part
 * that punishes predicting below c applies — it is a lower bound, not an observation.
 */
export function censoredPinballLoss(quantile: number) {
  return (yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor =>
    tf.tidy(() => {
      const target = yTrue.slice([0, 0], [-1, 1]);
      const censored = yTrue.slice([0, 1], [-1, 1]);
      const error = tf.sub(target, yPred);
      const pinball = tf.maximum(tf.mul(quantile, error), tf.mul(quantile - 1, error));
      const lowerBound = tf.mul(quantile, tf.relu(error));
      return tf.mean(tf.add(tf.mul(tf.sub(1, censored), pinball), tf.mul(censored, lowerBound)));
    });
}

export class QuantileModel {
  readonly quantile: number;
  readonly #model: tf.LayersModel;
  readonly #featureMean: number[];
  readonly #featureStd: number[];
  readonly #targetMean: number;
  readonly #targetStd: number;
  readonly samples: number;

  private constructor(model: tf.LayersModel, state: Omit<QuantileModelState, 'artifacts'>) {
    this.#model = model;
    this.quantile = state.quantile;
    this.#featureMean = state.featureMean;
    this.#featureStd = state.featureStd;
    this.#targetMean = state.targetMean;
    this.#targetStd = state.targetStd;
    this.samples = state.samples;
  }

  /** Trains on samples (synchronously: full-batch steps on the current backend). */
  static train(samples: readonly TrainingSample[], options: QuantileModelOptions): QuantileModel {
    if (samples.length === 0) throw new TypeError('QuantileModel.train: no samples');
    const kept = samples.slice(-(options.maxSamples ?? 4000));
    const width = kept[0]?.features.length ?? 0;
    const featureMean = new Array<number>(width).fill(0);
    const featureStd = new Array<number>(width).fill(0);
    for (const sample of kept) sample.features.forEach((v, i) => (featureMean[i] = (featureMean[i] ?? 0) + v / kept.length));
    for (const sample of kept) sample.features.forEach((v, i) => (featureStd[i] = (featureStd[i] ?? 0) + (v - (featureMean[i] ?? 0)) ** 2 / kept.length));
    for (let i = 0; i < width; i++) featureStd[i] = Math.sqrt(featureStd[i] ?? 0) || 1;
    const logs = kept.map((sample) => Math.log(Math.max(sample.value, 1e-6)));
    const targetMean = logs.reduce((a, b) => a + b, 0) / logs.length;
    const targetStd = Math.sqrt(logs.reduce((a, b) => a + (b - targetMean) ** 2, 0) / logs.length) || 1;

    const model = buildModel(width, options.hidden ?? 8, options.seed ?? 7);
    const optimizer = tf.train.adam(options.learningRate ?? 0.03);
    const loss = censoredPinballLoss(options.quantile);
    const x = tf.tensor2d(kept.map((sample) => normalise(sample.features, featureMean, featureStd)));
    const y = tf.tensor2d(kept.map((sample, i) => [((logs[i] as number) - targetMean) / targetStd, sample.censored ? 1 : 0]));
    try {
      const steps = options.steps ?? 150;
      for (let step = 0; step < steps; step++) {
        const cost = optimizer.minimize(() => loss(y, model.apply(x) as tf.Tensor) as tf.Scalar, true);
        cost?.dispose();
      }
    } finally {
      x.dispose();
      y.dispose();
      optimizer.dispose();
    }
    return new QuantileModel(model, { quantile: options.quantile, featureMean, featureStd, targetMean, targetStd, samples: kept.length });
  }

  /** The predicted quantile, in the value's unit, for each feature vector. */
  predict(features: readonly number[][]): number[] {
    if (features.length === 0) return [];
    return tf.tidy(() => {
      const x = tf.tensor2d(features.map((row) => normalise(row, this.#featureMean, this.#featureStd)));
      const out = (this.#model.predict(x) as tf.Tensor).dataSync();
      return Array.from(out, (z) => Math.exp(z * this.#targetStd + this.#targetMean));
    });
  }

  /** Serialises weights and scaling through `tf.io.withSaveHandler`. */
  async save(): Promise<QuantileModelState> {
    let captured: tf.io.ModelArtifacts | undefined;
    await this.#model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        captured = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON' } };
      }),
    );
    if (!captured?.weightData) throw new Error('QuantileModel.save: no weights were captured');
    const weightData = Buffer.from(captured.weightData as ArrayBuffer).toString('base64');
    return {
      quantile: this.quantile,
      featureMean: this.#featureMean,
      featureStd: this.#featureStd,
      targetMean: this.#targetMean,
      targetStd: this.#targetStd,
      samples: this.samples,
      artifacts: { modelTopology: captured.modelTopology, weightSpecs: captured.weightSpecs, weightData },
    };
  }

  /** Restores a saved model through `tf.io.fromMemory`. */
  static async load(state: QuantileModelState): Promise<QuantileModel> {
    const bytes = Buffer.from(state.artifacts.weightData, 'base64');
    const weightData = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({ modelTopology: state.artifacts.modelTopology as object, weightSpecs: state.artifacts.weightSpecs as tf.io.WeightsManifestEntry[], weightData }),
    );
    return new QuantileModel(model, state);
  }

  dispose(): void {
    this.#model.dispose();
  }
}

function buildModel(width: number, hidden: number, seed: number): tf.LayersModel {
  const model = tf.sequential();
  if (hidden > 0) {
    model.add(tf.layers.dense({ inputShape: [width], units: hidden, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed }) }));
    model.add(tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }));
  } else {
    model.add(tf.layers.dense({ inputShape: [width], units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed }) }));
  }
  return model;
}

function normalise(features: readonly number[], mean: readonly number[], std: readonly number[]): number[] {
  return features.map((value, i) => (value - (mean[i] ?? 0)) / (std[i] ?? 1));
}
