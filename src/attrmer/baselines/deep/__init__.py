"""The deep methods of Table III, each from its own paper at a size that trains on two CPU
cores: `elrcn` (enriched long-term recurrent CNN), `netab` (a 2D and a 3D network, fused),
`tlcnn` (a frame CNN transferred twice, then an LSTM); and two of today's reference points on
the onset→apex flow, `ststnet` (three shallow streams on u, v and strain) and `offapexnet` (a
stream per flow component, two fully connected layers). Each module turns one clip of the
pipeline's stores into its network's input (`prepare`) and builds the network (`build`);
`fit` trains one network on one fold, `transfer` runs TLCNN's steps, `run` runs every seed and
fold on the method's split and validation subjects. Not for the classic baselines
(`attrmer.baselines.run`) or the method (`attrmer.train`).
"""
