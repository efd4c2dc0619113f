using CatsDogs.ML.Data;
using CatsDogs.ML.Features;

namespace CatsDogs.ML.RabbitMQ;

/// <summary>Scores a photo with a saved model: the same floats as <c>predict</c>, one photo per core.</summary>
internal sealed class ScoreHandler(CatsDogsClassifier classifier, string modelSha256) : IWorkHandler
{
    public JobKind Kind => JobKind.Score;

    public string Target => modelSha256;

    public WorkResult Handle(WorkOrder order, ReadOnlyMemory<byte> body, string worker)
    {
        var result = new WorkResult(order.Job, order.Id, order.Path, Target, worker);
        try
        {
            var buffer = Array.Empty<byte>();
            var bytes = order.Inline ? body : PhotoFile.Read(order.Path, classifier.MaxPhotoBytes, ref buffer);
            return result with { DogProbability = classifier.Predict(bytes.Span, order.Path, parallelViews: false).DogProbability };
        }
        catch (ImageDecodeException e)
        {
            return result with { Error = e.Reason };
        }
    }
}

/// <summary>Computes a photo's output for every (backbone, view), keyed as the trainer's feature cache keys them.</summary>
internal sealed class FeatureHandler(FeaturePipeline pipeline) : IWorkHandler
{
    public JobKind Kind => JobKind.Features;

    public string Target { get; } = pipeline.Identity;

    public WorkResult Handle(WorkOrder order, ReadOnlyMemory<byte> body, string worker)
    {
        var result = new WorkResult(order.Job, order.Id, order.Path, Target, worker);
        try
        {
            var buffer = Array.Empty<byte>();
            var bytes = order.Inline ? body : PhotoFile.Read(order.Path, pipeline.Options.MaxPhotoBytes, ref buffer);
            var outputs = pipeline.ExtractViews(bytes.Span, order.Path);
            return result with
            {
                ImageSha256 = outputs.ImageSha256,
                Decoded = [outputs.Decoded.Width, outputs.Decoded.Height],
                Features = outputs.Values.Select(views => views.Select(v => Messages.Pack(v)).ToArray()).ToArray(),
            };
        }
        catch (ImageDecodeException e)
        {
            return result with { Error = e.Reason };
        }
    }
}
