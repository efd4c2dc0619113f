using CatsDogs.ML;
using CatsDogs.ML.Data;
using CatsDogs.ML.Explain;
using CatsDogs.ML.Training;

namespace CatsDogs.Web;

/// <summary>
/// The model, loaded once and shared by every request (a classifier is safe to call from several threads), with its
/// explainer opened at start when its head has a linear form (CAM needs one); both are disposed when the app stops.
/// </summary>
public sealed class Scorer : IDisposable
{
    public Scorer(WebOptions options)
    {
        Options = options;
        var key = options.SignKey is null ? null : SigningKeyFile.Read(options.SignKey);
        Classifier = CatsDogsClassifier.Load(options.Model, new ModelLoadOptions
        {
            ModelsDirectory = options.ModelsDirectory,
            UseCache = false,
            Device = options.Device,
            MaxPhotoBytes = options.MaxPhotoBytes,
            SigningKey = key,
        });
        try
        {
            Explainer = HeadKinds.Capabilities(Classifier.Head).HasLinearForm ? Classifier.CreateExplainer() : null;
        }
        catch
        {
            Classifier.Dispose();
            throw;
        }
    }

    public WebOptions Options { get; }

    public CatsDogsClassifier Classifier { get; }

    /// <summary>Heatmaps for <c>/api/explain</c>; null when the model's head has no linear form (e.g. LightGBM).</summary>
    public Explainer? Explainer { get; }

    /// <summary>Why this model has no heatmaps (and so no <c>/api/explain</c> and no <c>/model.onnx</c>), or null when it has them.</summary>
    public string? NoHeatmaps => Explainer is null
        ? $"This model's head ({HeadKinds.Name(Classifier.Head)}) has no linear form, which heatmaps and the ONNX export need; scores come from /api/predict. Train with --head logistic for heatmaps and the live camera."
        : null;

    public void Dispose()
    {
        Explainer?.Dispose();
        Classifier.Dispose();
    }
}
