using CatsDogs.ML;
using CatsDogs.ML.Data;
using CatsDogs.ML.Explain;

namespace CatsDogs.Web;

/// <summary>
/// The model, loaded once and shared by every request (a classifier is safe to call from several threads), with its
/// explainer opened at start; both are disposed when the app stops.
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
            Explainer = Classifier.CreateExplainer();
        }
        catch
        {
            Classifier.Dispose();
            throw;
        }
    }

    public WebOptions Options { get; }

    public CatsDogsClassifier Classifier { get; }

    public Explainer Explainer { get; }

    public void Dispose()
    {
        Explainer.Dispose();
        Classifier.Dispose();
    }
}
